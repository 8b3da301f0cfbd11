/* mcugen_add_f32.c: residual Add of two float32 tensors of the same shape. */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_ADD_F32_DEFINED
#define MCUGEN_ADD_F32_DEFINED

typedef struct {
    int32_t size;
    float act_min, act_max;
} mcugen_add_f32_params_t;

/* out = act(a + b), element by element. */
MCUGEN_KERNEL void mcugen_add_f32(const mcugen_add_f32_params_t *p, const float *a, const float *b, float *output)
{
    const int32_t size = p->size;
    const float act_min = p->act_min, act_max = p->act_max;
    for (int32_t i = 0; i < size; ++i) {
        output[i] = mcugen_clamp_f32(a[i] + b[i], act_min, act_max);
    }
}

#endif /* MCUGEN_ADD_F32_DEFINED */
