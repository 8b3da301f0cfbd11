/* mcugen_prelu_f32.c: PRelu with one slope per channel (ops/prelu.py). */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_PRELU_F32_DEFINED
#define MCUGEN_PRELU_F32_DEFINED

typedef struct {
    int32_t outer, channels;     /* outer pixels of `channels` values each */
    float act_min, act_max;      /* a fused activation's bounds (infinite: none) */
    const float *slope;          /* the slope of each channel */
} mcugen_prelu_f32_params_t;

/* out = act(x >= 0 ? x : slope[c] * x). */
MCUGEN_KERNEL void mcugen_prelu_f32(const mcugen_prelu_f32_params_t *p, const float *input, float *output)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t c = 0; c < p->channels; ++c) {
            const float x = *input++;
            *output++ = mcugen_clamp_f32(x >= 0.0f ? x : x * p->slope[c], p->act_min, p->act_max);
        }
    }
}

#endif /* MCUGEN_PRELU_F32_DEFINED */
