/* mcugen_global_avg_pool_f32.c: global average pooling, float32. */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_GLOBAL_AVG_POOL_F32_DEFINED
#define MCUGEN_GLOBAL_AVG_POOL_F32_DEFINED

typedef struct {
    int32_t pixels, channels;
    float act_min, act_max;
} mcugen_global_avg_pool_f32_params_t;

/* Global average pooling: the mean of each channel over all pixels, channel by channel
   (the planner relies on that order: ops/global_avg_pool.py, access). */
MCUGEN_KERNEL void mcugen_global_avg_pool_f32(const mcugen_global_avg_pool_f32_params_t *p, const float *input,
                                              float *output)
{
    const int32_t pixels = p->pixels, channels = p->channels;
    const float act_min = p->act_min, act_max = p->act_max;
    for (int32_t c = 0; c < channels; ++c) {
        float sum = 0.0f;
        for (int32_t i = 0; i < pixels; ++i) {
            sum += input[i * channels + c];
        }
        output[c] = mcugen_clamp_f32(sum / (float)pixels, act_min, act_max);
    }
}

#endif /* MCUGEN_GLOBAL_AVG_POOL_F32_DEFINED */
