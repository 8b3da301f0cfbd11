/* mcugen_add_s8.c: residual Add of two int8 tensors of the same shape, as TFLite's int8
 * ADD (a common scale with 20 bits of headroom; ops/add.py). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_ADD_S8_DEFINED
#define MCUGEN_ADD_S8_DEFINED

typedef struct {
    int32_t size;
    int32_t a_zp, a_mult, a_shift;
    int32_t b_zp, b_mult, b_shift;
    int32_t output_zp, output_mult, output_shift;
    int32_t act_min, act_max;
} mcugen_add_s8_params_t;

/* out = requant(rescale(a - a_zp) + rescale(b - b_zp)): both inputs shifted left by 20
   and scaled to a common scale, summed, then scaled to the output (TFLite's ADD). */
MCUGEN_KERNEL void mcugen_add_s8(const mcugen_add_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        const int32_t sa = mcugen_multiply_by_quantized_multiplier((a[i] - p->a_zp) * 0x100000, p->a_mult, p->a_shift);
        const int32_t sb = mcugen_multiply_by_quantized_multiplier((b[i] - p->b_zp) * 0x100000, p->b_mult, p->b_shift);
        int32_t v = mcugen_multiply_by_quantized_multiplier(sa + sb, p->output_mult, p->output_shift);
        v = v < -256 ? -256 : v > 255 ? 255 : v;   /* as mcugen_requantize_s8: keeps + zp in range */
        output[i] = mcugen_clamp_s8(v + p->output_zp, p->act_min, p->act_max);
    }
}

#endif /* MCUGEN_ADD_S8_DEFINED */
