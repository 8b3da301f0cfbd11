/* mcugen_global_avg_pool_s8.c: global average pooling, int8 (same scale and zero point in
 * and out). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_GLOBAL_AVG_POOL_S8_DEFINED
#define MCUGEN_GLOBAL_AVG_POOL_S8_DEFINED

typedef struct {
    int32_t pixels, channels;
    int32_t act_min, act_max;
} mcugen_global_avg_pool_s8_params_t;

/* Global average pooling: the rounded mean of each channel over all pixels. */
MCUGEN_KERNEL void mcugen_global_avg_pool_s8(const mcugen_global_avg_pool_s8_params_t *p, const int8_t *input,
                                             int8_t *output)
{
    for (int32_t c = 0; c < p->channels; ++c) {
        int32_t sum = 0;
        for (int32_t i = 0; i < p->pixels; ++i) {
            sum += input[i * p->channels + c];
        }
        output[c] = mcugen_clamp_s8(mcugen_rounding_div(sum, p->pixels), p->act_min, p->act_max);
    }
}

#endif /* MCUGEN_GLOBAL_AVG_POOL_S8_DEFINED */
