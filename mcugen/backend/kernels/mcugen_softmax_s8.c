/* mcugen_softmax_s8.c: softmax over the last axis, int8, as TFLite's int8 SOFTMAX
 * (reference_ops::Softmax, CMSIS-NN's arm_softmax_s8): gemmlowp's fixed-point exp and
 * reciprocal, integer-only (ops/softmax.py). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_SOFTMAX_S8_DEFINED
#define MCUGEN_SOFTMAX_S8_DEFINED

typedef struct {
    int32_t rows, classes;
    int32_t input_mult, input_shift;   /* beta * s_in * 2^26: x - max to Q5.26 */
    int32_t diff_min;                  /* x - max below it counts as exp 0 */
} mcugen_softmax_s8_params_t;

#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#endif

/* gemmlowp SaturatingRoundingMultiplyByPOT, exponent 1..30: x * 2^exponent, saturating. */
static inline int32_t mcugen_saturating_left_shift(int32_t x, int32_t exponent)
{
    const int32_t bits = 31 - exponent;
    const uint32_t limit = (1u << (uint32_t)bits) - 1u;
    const int32_t threshold = (int32_t)limit;
    const uint32_t shifted = (uint32_t)x << (uint32_t)exponent;
    if (x > threshold) {
        return INT32_MAX;
    }
    return (x < -threshold) ? INT32_MIN : (int32_t)shifted;
}

/* gemmlowp exp(a) for a in [-1/4, 0), Q0.31: a Taylor expansion around -1/8. */
static inline int32_t mcugen_exp_quarter(int32_t a)
{
    const int32_t x = a + 0x10000000;  /* + 1/8 */
    const int32_t x2 = mcugen_sat_rounding_doubling_high_mul(x, x);
    const int32_t x3 = mcugen_sat_rounding_doubling_high_mul(x2, x);
    const int32_t x4_over_4 = mcugen_rounding_divide_by_pot(mcugen_sat_rounding_doubling_high_mul(x2, x2), 2);
    const int32_t tail = mcugen_rounding_divide_by_pot(
        mcugen_sat_rounding_doubling_high_mul(x4_over_4 + x3, 715827883) + x2, 1);
    return 1895147668 + mcugen_sat_rounding_doubling_high_mul(1895147668, x + tail);
}

/* gemmlowp exp_on_negative_values for Q5.26 in, Q0.31 out: the fraction modulo 1/4 by the
   polynomial, then exp(-2^k) for each set bit k of the rest. */
static inline int32_t mcugen_exp_on_negative_values(int32_t a)
{
    static const int32_t factors[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t quarter = 0x1000000;  /* 1/4 in Q5.26 */
    const uint32_t a_mod_quarter = (uint32_t)a & 0x00FFFFFFu;  /* a & (quarter - 1), two's complement */
    const int32_t a_mod_quarter_minus_quarter = (int32_t)a_mod_quarter - quarter;
    const int32_t rest = a_mod_quarter_minus_quarter - a;  /* >= 0: the multiples of 1/4 */
    const uint32_t remainder = (uint32_t)rest;
    uint32_t bit = 0x1000000u;  /* 2^(24 + k) */
    int32_t result = mcugen_exp_quarter(mcugen_saturating_left_shift(a_mod_quarter_minus_quarter, 5));
    for (int32_t k = 0; k < 7; ++k) {
        if ((remainder & bit) != 0u) {
            result = mcugen_sat_rounding_doubling_high_mul(result, factors[k]);
        }
        bit <<= 1u;
    }
    return a == 0 ? INT32_MAX : result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1, Q0.31: Newton-Raphson on half the denominator. */
static inline int32_t mcugen_one_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + mcugen_sat_rounding_doubling_high_mul(half_denominator, -1010580540);
    for (int32_t i = 0; i < 3; ++i) {
        const int32_t one_minus = 0x20000000 - mcugen_sat_rounding_doubling_high_mul(half_denominator, x);
        x += mcugen_saturating_left_shift(mcugen_sat_rounding_doubling_high_mul(x, one_minus), 2);
    }
    return mcugen_saturating_left_shift(x, 1);
}

/* x - max in Q5.26 and its exp in Q0.31, or 0 below diff_min. Out of line: the kernel calls
   it twice per class, and two inlined copies of the exp would double its code (once per
   inference, the call costs nothing that matters). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int32_t mcugen_softmax_exp(const mcugen_softmax_s8_params_t *p, int32_t diff)
{
    if (diff < p->diff_min) {
        return 0;
    }
    return mcugen_exp_on_negative_values(mcugen_multiply_by_quantized_multiplier(diff, p->input_mult, p->input_shift));
}

#ifdef __clang__
#pragma clang diagnostic pop
#endif

/* Softmax: output = e[i] / sum(e) in 1/256, - 128, with e from gemmlowp's exp. */
MCUGEN_KERNEL void mcugen_softmax_s8(const mcugen_softmax_s8_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t r = 0; r < p->rows; ++r, input += p->classes, output += p->classes) {
        int32_t max = input[0];
        uint32_t sum = 0;   /* Q12.19; saturated where TFLite's int32 sum would overflow (then every output is 0) */
        int32_t bits = 0;   /* the sum's significant bits: 20 to 31 (it holds exp(0) = 2^19) */
        int32_t scale, exponent, headroom;
        uint32_t normalized;
        for (int32_t i = 1; i < p->classes; ++i) {
            max = input[i] > max ? input[i] : max;
        }
        for (int32_t i = 0; i < p->classes; ++i) {
            sum += (uint32_t)mcugen_rounding_divide_by_pot(mcugen_softmax_exp(p, input[i] - max), 12);
            sum = sum > (uint32_t)INT32_MAX ? (uint32_t)INT32_MAX : sum;   /* each term is below 2^20 */
        }
        while ((sum >> (uint32_t)bits) != 0u) {
            ++bits;
        }
        /* The sum normalized to [1, 2) and its reciprocal; 2^exponent takes e / sum to 1/256
           (TFLite: headroom = 32 - bits, exponent = 12 - headroom + 31 - 8). Beyond 31 every
           output rounds to 0, where TFLite stops. */
        headroom = 32 - bits;
        normalized = (sum << (uint32_t)headroom) - 0x80000000u;
        scale = mcugen_one_over_one_plus_x((int32_t)normalized);
        exponent = bits + 3;
        for (int32_t i = 0; i < p->classes; ++i) {
            const int32_t e = mcugen_softmax_exp(p, input[i] - max);   /* 0 below diff_min: output -128 */
            const int32_t v = mcugen_sat_rounding_doubling_high_mul(scale, e);
            output[i] = mcugen_clamp_s8((exponent > 31 ? 0 : mcugen_rounding_divide_by_pot(v, exponent)) - 128, -128, 127);
        }
    }
}

#endif /* MCUGEN_SOFTMAX_S8_DEFINED */
