/* mcugen_prelu_s8.c: PRelu with one slope per channel, as TFLite's int8 PRELU
 * (reference_ops::BroadcastPrelu4DSlow; ops/prelu.py). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_PRELU_S8_DEFINED
#define MCUGEN_PRELU_S8_DEFINED

typedef struct {
    int32_t outer, channels;     /* outer pixels of `channels` values each */
    int32_t input_zp, alpha_zp, output_zp;
    int32_t mult_pos, shift_pos; /* s_in / s_out */
    int32_t mult_neg, shift_neg; /* s_in s_alpha / s_out */
    int32_t act_min, act_max;    /* int8, or a fused activation's clamp */
    const int8_t *alpha;         /* the int8 slope of each channel */
} mcugen_prelu_s8_params_t;

/* v = x - zp_in; out = zp_out + (v >= 0 ? M1 v : M2 v (alpha[c] - zp_alpha)), clamped to [act_min, act_max]. */
MCUGEN_KERNEL void mcugen_prelu_s8(const mcugen_prelu_s8_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t c = 0; c < p->channels; ++c) {
            const int32_t v = *input++ - p->input_zp;
            int32_t y = v >= 0 ? mcugen_multiply_by_quantized_multiplier(v, p->mult_pos, p->shift_pos)
                               : mcugen_multiply_by_quantized_multiplier(v * (p->alpha[c] - p->alpha_zp),
                                                                         p->mult_neg, p->shift_neg);
            y = y < -256 ? -256 : y > 255 ? 255 : y;   /* keeps + zp in range; the clamp below decides */
            *output++ = mcugen_clamp_s8(y + p->output_zp, p->act_min, p->act_max);
        }
    }
}

#endif /* MCUGEN_PRELU_S8_DEFINED */
