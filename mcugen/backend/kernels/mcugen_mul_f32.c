/* mcugen_mul_f32.c: element-wise Mul of two float32 tensors, b repeated over a's pixels. */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_MUL_F32_DEFINED
#define MCUGEN_MUL_F32_DEFINED

typedef struct {
    int32_t outer, inner;        /* a has outer * inner values, b has inner (one per channel, or all) */
    float act_min, act_max;
} mcugen_mul_f32_params_t;

/* out = act(a * b[i % inner]): squeeze-and-excitation scaling, or two tensors of a shape. */
MCUGEN_KERNEL void mcugen_mul_f32(const mcugen_mul_f32_params_t *p, const float *a, const float *b, float *output)
{
    const int32_t outer = p->outer, inner = p->inner;
    const float act_min = p->act_min, act_max = p->act_max;
    for (int32_t o = 0; o < outer; ++o) {
        for (int32_t i = 0; i < inner; ++i) {
            *output++ = mcugen_clamp_f32(*a++ * b[i], act_min, act_max);
        }
    }
}

#endif /* MCUGEN_MUL_F32_DEFINED */
