/* mcugen_max_pool_f32.c: max pooling, float32. */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_MAX_POOL_F32_DEFINED
#define MCUGEN_MAX_POOL_F32_DEFINED

/* Max pooling: the largest value in each window; padded taps are skipped (ONNX pads with
   -inf), and the importer refuses windows of padding only. */
MCUGEN_KERNEL void mcugen_max_pool_f32(const mcugen_conv_dims_t *d, const mcugen_act_f32_t *act,
                                       const float *input, float *output)
{
    const float act_min = act->act_min, act_max = act->act_max;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
        for (int32_t ox = 0; ox < d->out_w; ++ox) {
            for (int32_t c = 0; c < d->out_c; ++c) {
                float max = -INFINITY;
                for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
                    const int32_t iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
                    for (int32_t kx = 0; kx < d->kernel_w; ++kx) {
                        const int32_t ix = ox * d->stride_w - d->pad_left + kx * d->dilation_w;
                        if (mcugen_inside_f32(d, iy, ix)) {
                            const float v = input[(iy * d->in_w + ix) * d->in_c + c];
                            max = v > max ? v : max;
                        }
                    }
                }
                *output++ = mcugen_clamp_f32(max, act_min, act_max);
            }
        }
    }
}

#endif /* MCUGEN_MAX_POOL_F32_DEFINED */
