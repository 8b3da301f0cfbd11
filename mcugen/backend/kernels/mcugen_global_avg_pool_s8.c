/* mcugen_global_avg_pool_s8.c: global average pooling, int8, as TFLite's MEAN
 * (reference_ops::QuantizedMeanOrSum; ops/global_avg_pool.py). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_GLOBAL_AVG_POOL_S8_DEFINED
#define MCUGEN_GLOBAL_AVG_POOL_S8_DEFINED

typedef struct {
    int32_t pixels, channels;
    int32_t input_zp, output_zp;
    int32_t mult, shift;         /* s_in / (pixels * s_out): 1/pixels folded in as TFLite folds it */
    int32_t act_min, act_max;
} mcugen_global_avg_pool_s8_params_t;

/* Global average pooling: each channel's sum of q - input_zp over all pixels, requantized
   once to the output's scale and zero point. */
MCUGEN_KERNEL void mcugen_global_avg_pool_s8(const mcugen_global_avg_pool_s8_params_t *p, const int8_t *input,
                                             int8_t *output)
{
    for (int32_t c = 0; c < p->channels; ++c) {
        int32_t sum = 0;
        int32_t v;
        for (int32_t i = 0; i < p->pixels; ++i) {
            sum += input[i * p->channels + c];
        }
        v = mcugen_multiply_by_quantized_multiplier(sum - p->pixels * p->input_zp, p->mult, p->shift);
        v = v < -256 ? -256 : v > 255 ? 255 : v;   /* as mcugen_requantize_s8: keeps + zp in range */
        output[c] = mcugen_clamp_s8(v + p->output_zp, p->act_min, p->act_max);
    }
}

#endif /* MCUGEN_GLOBAL_AVG_POOL_S8_DEFINED */
