/* mcugen_common_s8.h: what the int8 kernels share: the requantization parameters and
 * the fixed-point helpers (gemmlowp's and TFLite's integer steps, mcugen/fixedpoint.py is
 * their numpy twin), and the DSP instructions of the Cortex-M4/M7 (or, with
 * -DMCUGEN_EMULATE_DSP, the same in portable C, so that hosts run the DSP code paths). */
#ifndef MCUGEN_COMMON_S8_H
#define MCUGEN_COMMON_S8_H

#include <stdint.h>
#include <string.h>

#include "mcugen_common.h"

/* The helpers below shift negative numbers right and expect it to be arithmetic
   (true of gcc, clang and arm-none-eabi-gcc). This fails to compile where it is not. */
typedef char mcugen_requires_arithmetic_shift[((-1) >> 1) == -1 ? 1 : -1];

/* Per-output-channel requantization: out = clamp(zp_out + acc * mult * 2^(shift-31)). */
typedef struct {
    int32_t input_zp;
    int32_t output_zp;
    int32_t act_min, act_max;    /* the fused activation, as an int8 clamp */
    const int32_t *mult;         /* Q31 multipliers, one per output channel */
    const int32_t *shift;        /* power-of-two exponents, one per output channel */
    int32_t fast;                /* 1: every shift <= -2 and mult > 2^30: mcugen_requant_fast_s8 applies */
} mcugen_requant_t;

/* A depthwise convolution's own choices beside its window, both the planner's: the
   zero-point-padded copy of its input, on small maps: padded_h rows of padded_w pixels
   (every window then inside, on the unrolled 3x3 path; 0 rows: none); and unpaired: one
   output pixel at a time, never two (where a pair's extra pixel of overlap distance would
   set the arena's peak). Not in mcugen_conv_dims_t: the kernel copies that struct, and a
   larger copy measured slower (gcc 12 no longer kept all of it in registers). */
typedef struct {
    int32_t padded_h, padded_w;
    int32_t unpaired;
} mcugen_padded_copy_t;

/* Not every model uses every helper (a model without convolutions has no use for
   mcugen_requantize_s8); clang warns about unused static inline functions, gcc does not. */
#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#endif

/* ---- DSP instructions (Cortex-M4/M7: SXTB16, SMLAD), or portable C for tests ------ */

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define MCUGEN_DSP 1
static inline int32_t mcugen_sxtb16(int32_t x) { return __sxtb16(x); }
static inline int32_t mcugen_smlad(int32_t a, int32_t b, int32_t acc) { return __smlad(a, b, acc); }
static inline int32_t mcugen_smlabb(int32_t a, int32_t b, int32_t acc) { return __smlabb(a, b, acc); }
static inline int32_t mcugen_smlatt(int32_t a, int32_t b, int32_t acc) { return __smlatt(a, b, acc); }
/* gcc 12's arm_acle.h __ssat assigns the builtin's unsigned result to an int32_t inside
   the macro, which -Wsign-conversion reports here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-conversion"
static inline int32_t mcugen_ssat8(int32_t x) { return __ssat(x, 8); }
#pragma GCC diagnostic pop
#elif defined(MCUGEN_EMULATE_DSP)
/* The same instructions in portable C, so that hosts run and test the DSP kernels. */
#define MCUGEN_DSP 1
static inline int32_t mcugen_sxtb16(int32_t x)
{
    const uint32_t u = (uint32_t)x;
    const uint32_t lo = (uint32_t)(uint16_t)(int16_t)(int8_t)(u & 0xFFu);
    const uint32_t hi = (uint32_t)(uint16_t)(int16_t)(int8_t)((u >> 16) & 0xFFu);
    return (int32_t)(lo | (hi << 16));
}
static inline int32_t mcugen_smlad(int32_t a, int32_t b, int32_t acc)
{
    const int32_t a_lo = (int16_t)((uint32_t)a & 0xFFFFu), a_hi = (int16_t)((uint32_t)a >> 16);
    const int32_t b_lo = (int16_t)((uint32_t)b & 0xFFFFu), b_hi = (int16_t)((uint32_t)b >> 16);
    return acc + a_lo * b_lo + a_hi * b_hi;
}
/* SMLABB and SMLATT: acc + the product of the bottom (top) halves, as int16. */
static inline int32_t mcugen_smlabb(int32_t a, int32_t b, int32_t acc)
{
    return acc + (int16_t)((uint32_t)a & 0xFFFFu) * (int16_t)((uint32_t)b & 0xFFFFu);
}
static inline int32_t mcugen_smlatt(int32_t a, int32_t b, int32_t acc)
{
    return acc + (int16_t)((uint32_t)a >> 16) * (int16_t)((uint32_t)b >> 16);
}
/* SSAT #8: x clamped to [-128, 127]. */
static inline int32_t mcugen_ssat8(int32_t x) { return x < -128 ? -128 : x > 127 ? 127 : x; }
#endif

#ifdef MCUGEN_DSP
/* Bytes 1 and 3 of x, sign-extended to the two halves (SXTB16 with ROR #8). */
static inline int32_t mcugen_sxtb16_ror8(int32_t x)
{
    const uint32_t u = (uint32_t)x;
    const uint32_t rotated = (u >> 8) | (u << 24);  /* ROR #8 */
    return mcugen_sxtb16((int32_t)rotated);
}

/* Two int16 from any address (an unaligned LDR on the M4/M7). */
static inline int32_t mcugen_read_s16x2(const int16_t *p)
{
    int32_t v;
    (void)memcpy(&v, p, sizeof v);
    return v;
}

/* Four int8 from any address (an unaligned LDR on the M4/M7). */
static inline int32_t mcugen_read_s8x4(const int8_t *p)
{
    int32_t v;
    (void)memcpy(&v, p, sizeof v);
    return v;
}
#endif

/* gemmlowp SaturatingRoundingDoublingHighMul: a * b / 2^31 rounded to nearest, ties toward
   +infinity (the nudge, then a truncating division: 0.5 -> 1, -0.5 -> 0). */
static inline int32_t mcugen_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = (ab >= 0) ? INT64_C(0x40000000) : (INT64_C(1) - INT64_C(0x40000000));  /* +-2^30 */
    int32_t high = INT32_MAX;
    if ((a != INT32_MIN) || (b != INT32_MIN)) {
        high = (int32_t)((ab + nudge) / INT64_C(2147483648));  /* / 2^31, truncating */
    }
    return high;
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, rounding half away from zero. */
static inline int32_t mcugen_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const uint64_t pot = (uint64_t)1u << (uint32_t)exponent;  /* exponent: 0 to 31 */
    const uint32_t mask = (uint32_t)(pot - 1u);
    const uint32_t half = mask >> 1;
    const uint32_t low = (uint32_t)x & mask;
    const int32_t remainder = (int32_t)low;
    const int32_t threshold = (int32_t)half + ((x < 0) ? 1 : 0);
    return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

/* TFLite's MultiplyByQuantizedMultiplier; a left shift saturates instead of overflowing. */
static inline int32_t mcugen_multiply_by_quantized_multiplier(int32_t acc, int32_t mult, int32_t shift)
{
    int32_t x = acc;
    if (shift > 0) {
        const uint64_t scale = (uint64_t)1u << (uint32_t)shift;  /* shift: 1 to 31 */
        const int64_t wide = (int64_t)acc * (int64_t)scale;
        if (wide > INT32_MAX) {
            x = INT32_MAX;
        } else if (wide < INT32_MIN) {
            x = (int32_t)INT32_MIN;  /* INT32_MIN is (-INT32_MAX - 1) */
        } else {
            x = (int32_t)wide;
        }
    }
    return mcugen_rounding_divide_by_pot(mcugen_sat_rounding_doubling_high_mul(x, mult), (shift > 0) ? 0 : -shift);
}

/* mcugen_requantize_s8 in six instructions on the M4 (AND, ASR, ORR, SMLAL, ADD, ASR), exactly
   the same: for a right shift e >= 2 and 2^30 < mult < 2^31 (the layer's `fast` flag),
   RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc, mult), e)
       == ((acc * mult + (acc < 0 ? -2^30 : 2^30)) >> 32) + 2^(e-2)) >> (e - 1):
   gemmlowp's two roundings (ties up, then ties away from zero), folded into one 64-bit sum and one
   rounding shift (tests/test_kernels.py checks it against mcugen.fixedpoint).
   round = 2^(e-2) and e1 = e - 1 are per channel: see requant_channel. */
#if defined(__ARM_ARCH_6M__) || defined(MCUGEN_NO_LONG_MULTIPLY)
/* Cortex-M0/M0+ have no 32x32->64 multiply (a 64-bit product is a __aeabi_lmul call): the
   same high word, exactly, from four 32-bit products of 16-bit halves (acc = ah 2^16 + al,
   mult = mh 2^16 + ml; no partial sum overflows, and the carries are summed separately). */
static inline int32_t mcugen_high_word_fast(int32_t acc, int32_t mult)
{
    const int32_t ah = acc >> 16, mh = mult >> 16;
    const int32_t al = (int32_t)(uint16_t)acc, ml = (int32_t)(uint16_t)mult;  /* the low halves */
    const int32_t a = ah * ml, b = al * mh;
    const uint32_t low = (uint32_t)al * (uint32_t)ml;
    const int32_t low_high = (int32_t)(uint16_t)(low >> 16);  /* (gcc keeps the M0 code of the unsigned form) */
    const int32_t c = low_high + ((acc < 0) ? -0x4000 : 0x4000);  /* +-2^14 */
    const int32_t carry = (int32_t)(uint16_t)a + (int32_t)(uint16_t)b + c;
    return ah * mh + (a >> 16) + (b >> 16) + (carry >> 16);
}
#else
/* hi32(acc * mult + (acc < 0 ? -2^30 : 2^30)): on the M4/M7, AND, ASR, ORR and one SMLAL */
static inline int32_t mcugen_high_word_fast(int32_t acc, int32_t mult)
{
    /* +-2^30 by acc's sign, as a 64-bit value built from its halves (acc >> 31 is all ones
       or zero: arithmetic shift, which the check at the top of this file requires) */
    const uint32_t k_lo = ((uint32_t)acc & 0x80000000u) | 0x40000000u;
    /* cppcheck-suppress shiftTooManyBitsSigned */
    const int64_t k = (int64_t)(((uint64_t)(uint32_t)(acc >> 31) << 32) | k_lo);
    return (int32_t)((k + (int64_t)acc * mult) >> 32);
}
#endif

static inline int8_t mcugen_requant_fast_s8(int32_t acc, int32_t mult, int32_t round, int32_t e1,
                                     int32_t zp, int32_t lo, int32_t hi)
{
    int32_t v = ((mcugen_high_word_fast(acc, mult) + round) >> e1) + zp;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}

/* mcugen_requant_fast_s8's value, shorter: for e = -shift >= 2,
   (h + 2^(e-2)) >> (e-1) == ((h >> (e-2)) + 1) >> 1 (floor division nests), so no rounding
   constant is built per channel; with the DSP instructions SSAT clamps to int8, and the
   activation's clamp, when there is one, follows (lo and hi are a layer's constants, so the
   tests fold away). Only where the layer's fast flag holds. */
/* (unused where no kernel takes it: the plain cores' depthwise takes the channel form) */
/* cppcheck-suppress unusedFunction */
static inline int8_t mcugen_requant_short_s8(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo,
                                             int32_t hi)
{
    /* + zp folded into the rounding's + 1: (h + 1 + 2 zp) >> 1 == ((h + 1) >> 1) + zp, one
       addition fewer per output (no overflow: h >> (e - 2) is below 2^30 in magnitude) */
    int32_t v = ((mcugen_high_word_fast(acc, mult) >> (-2 - shift)) + 1 + 2 * zp) >> 1;
#ifdef MCUGEN_DSP
    v = mcugen_ssat8(v);
    if (lo > -128) {
        v = v < lo ? lo : v;
    }
    if (hi < 127) {
        v = v > hi ? hi : v;
    }
#else
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
#endif
    return (int8_t)v;
}

/* ---- one channel's fast requantization, its constants derived once -------------------
   mcugen_requant_short_s8's value, for kernels that requantize several outputs of one
   channel (a few pixels' worth): mcugen_channel_q once per channel, then
   mcugen_channel_requant_s8 per output. Only where the layer's fast flag holds. The DSP
   cores' kernels do not take it (their short form is as short): unused there. */
typedef struct {
    int32_t mult, down;  /* down = e - 2, for e = -shift */
#if defined(__ARM_ARCH_6M__) || defined(MCUGEN_NO_LONG_MULTIPLY)
    int32_t mh, ml;      /* mult = mh 2^16 + ml, ml in (-2^15, 2^15] */
    int32_t down16;      /* min(e + 13, 31) */
#endif
} mcugen_channel_q_t;

/* cppcheck-suppress unusedFunction */
static inline mcugen_channel_q_t mcugen_channel_q(int32_t mult, int32_t shift)
{
    mcugen_channel_q_t c;
    c.mult = mult;
    c.down = -shift - 2;
#if defined(__ARM_ARCH_6M__) || defined(MCUGEN_NO_LONG_MULTIPLY)
    {
        const uint32_t high = ((uint32_t)mult + 0x7FFFu) >> 16;  /* mult rounded to 2^16, ties down: <= 2^15 */
        const uint32_t low = (uint32_t)mult - (high << 16);      /* (-2^15, 2^15], as two's complement */
        c.mh = (int32_t)high;
        c.ml = (int32_t)low;
        c.down16 = (-shift < 18) ? (13 - shift) : 31;
    }
#endif
    return c;
}

/* h >> (e - 2), h = hi32(acc mult +- 2^30) as mcugen_high_word_fast (the value before the
   short form's last rounding). */
/* cppcheck-suppress unusedFunction */
static inline int32_t mcugen_channel_high(int32_t acc, const mcugen_channel_q_t *c)
{
#if defined(__ARM_ARCH_6M__) || defined(MCUGEN_NO_LONG_MULTIPLY)
    /* Without a long multiply, two 32-bit products where the accumulator is within 2^16
       (nearly all of them: a layer's outputs are near its zero point):
         t = acc mh + floor(acc ml / 2^16) = floor(acc mult / 2^16)        (no product, no sum overflows:
                                                                             |acc| <= 2^16, |mh|, |ml| <= 2^15)
         u = floor(t / 2) + 2^13 - [acc < 0] 2^14 = floor((acc mult +- 2^30) / 2^17)
         h >> (e - 2) = u >> (e + 13)                                        (floor divisions nest)
       and u >> 31 is u >> (e + 13) for any larger count (|u| < 2^31). Elsewhere, the four
       products of mcugen_high_word_fast. */
    /* cppcheck-suppress shiftTooManyBitsSigned */
    const int32_t sign = acc >> 31;  /* -1 or 0 (an arithmetic shift, checked at the top) */
    int32_t v;
    if ((acc >> 16) == sign) {
        const int32_t t = acc * c->mh + ((acc * c->ml) >> 16);
        const int32_t u = (t >> 1) + 0x2000 + sign * 0x4000;
        v = u >> c->down16;
    } else {
        v = mcugen_high_word_fast(acc, c->mult) >> c->down;
    }
    return v;
#else
    return mcugen_high_word_fast(acc, c->mult) >> c->down;
#endif
}

/* The output: ((h >> (e - 2)) + 1 + 2 zp) >> 1, clamped (mcugen_requant_short_s8); zp2 = 1 + 2 zp. */
/* cppcheck-suppress unusedFunction */
static inline int8_t mcugen_channel_requant_s8(int32_t acc, const mcugen_channel_q_t *c, int32_t zp2, int32_t lo,
                                               int32_t hi)
{
    int32_t v = (mcugen_channel_high(acc, c) + zp2) >> 1;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}

/* A channel's fast constants from its TFLite shift (<= -2): 2^(e-2) and e - 1 for e = -shift. */
static inline int32_t mcugen_requant_round(int32_t shift)
{
    const int32_t bits = -shift - 2;  /* 0 to 29 */
    const uint32_t round = 1u << (uint32_t)bits;
    return (int32_t)round;
}
#define MCUGEN_REQUANT_ROUND(shift) mcugen_requant_round(shift)
#define MCUGEN_REQUANT_E1(shift) (-(shift) - 1)

static inline int8_t mcugen_requantize_fast_s8(int32_t acc, const mcugen_requant_t *q, int32_t channel)
{
    const int32_t s = q->shift[channel];
    return mcugen_requant_fast_s8(acc, q->mult[channel], MCUGEN_REQUANT_ROUND(s), MCUGEN_REQUANT_E1(s), q->output_zp,
                           q->act_min, q->act_max);
}

static inline int8_t mcugen_requantize_s8(int32_t acc, const mcugen_requant_t *q, int32_t channel)
{
    int32_t v;
    if (q->fast != 0) {
        return mcugen_requantize_fast_s8(acc, q, channel);
    }
    v = mcugen_multiply_by_quantized_multiplier(acc, q->mult[channel], q->shift[channel]);
    /* Anything beyond [-256, 255] clamps the same either way; narrowing first keeps the
       zero point's addition from overflowing int32. */
    v = v < -256 ? -256 : v > 255 ? 255 : v;
    v += q->output_zp;
    v = v < q->act_min ? q->act_min : v;
    v = v > q->act_max ? q->act_max : v;
    return (int8_t)v;
}

static inline int8_t mcugen_clamp_s8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

#ifdef __clang__
#pragma clang diagnostic pop
#endif

#endif /* MCUGEN_COMMON_S8_H */
