/* mcugen_avg_pool_f32.c: average pooling, float32. */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_AVG_POOL_F32_DEFINED
#define MCUGEN_AVG_POOL_F32_DEFINED

typedef struct {
    int32_t count_include_pad;   /* ONNX's attribute: 0 skips padded taps, 1 counts them as zeros */
    float act_min, act_max;
} mcugen_avg_pool_f32_params_t;

/* Average pooling: the mean of each window. */
MCUGEN_KERNEL void mcugen_avg_pool_f32(const mcugen_conv_dims_t *d, const mcugen_avg_pool_f32_params_t *p,
                                       const float *input, float *output)
{
    const int32_t count_include_pad = p->count_include_pad;
    const float act_min = p->act_min, act_max = p->act_max;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
        for (int32_t ox = 0; ox < d->out_w; ++ox) {
            for (int32_t c = 0; c < d->out_c; ++c) {
                float sum = 0.0f;
                int32_t count = 0;
                for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
                    const int32_t iy = oy * d->stride_h - d->pad_top + ky;
                    for (int32_t kx = 0; kx < d->kernel_w; ++kx) {
                        const int32_t ix = ox * d->stride_w - d->pad_left + kx;
                        if (mcugen_inside_f32(d, iy, ix)) {
                            sum += input[(iy * d->in_w + ix) * d->in_c + c];
                            ++count;
                        } else if (count_include_pad) {
                            ++count;
                        }
                    }
                }
                *output++ = mcugen_clamp_f32(sum / (float)count, act_min, act_max);
            }
        }
    }
}

#endif /* MCUGEN_AVG_POOL_F32_DEFINED */
