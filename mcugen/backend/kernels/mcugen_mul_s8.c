/* mcugen_mul_s8.c: element-wise Mul of two int8 tensors, as TFLite's int8 MUL, b repeated
 * over a's pixels (squeeze-and-excitation scaling; ops/mul.py). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_MUL_S8_DEFINED
#define MCUGEN_MUL_S8_DEFINED

typedef struct {
    int32_t outer, inner;        /* a has outer * inner values, b has inner (one per channel, or all) */
    int32_t a_zp, b_zp, output_zp;
    int32_t mult, shift;
    int32_t act_min, act_max;
} mcugen_mul_s8_params_t;

/* out = requant((a - a_zp) * (b - b_zp)) with b[i % inner]: squeeze-and-excitation scaling. */
MCUGEN_KERNEL void mcugen_mul_s8(const mcugen_mul_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->inner; ++i) {
            const int32_t product = (*a++ - p->a_zp) * (b[i] - p->b_zp);
            int32_t v = mcugen_multiply_by_quantized_multiplier(product, p->mult, p->shift);
            v = v < -256 ? -256 : v > 255 ? 255 : v;   /* as mcugen_requantize_s8: keeps + zp in range */
            *output++ = mcugen_clamp_s8(v + p->output_zp, p->act_min, p->act_max);
        }
    }
}

#endif /* MCUGEN_MUL_S8_DEFINED */
