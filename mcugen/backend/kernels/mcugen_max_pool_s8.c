/* mcugen_max_pool_s8.c: max pooling, int8 (same scale and zero point in and out). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_MAX_POOL_S8_DEFINED
#define MCUGEN_MAX_POOL_S8_DEFINED

typedef struct {
    int32_t act_min, act_max;
} mcugen_max_pool_s8_params_t;

/* Max pooling: the largest int8 value in each window; padded taps are skipped. */
MCUGEN_KERNEL void mcugen_max_pool_s8(const mcugen_conv_dims_t *d, const mcugen_max_pool_s8_params_t *p,
                                      const int8_t *input, int8_t *output)
{
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
        for (int32_t ox = 0; ox < d->out_w; ++ox) {
            for (int32_t c = 0; c < d->out_c; ++c) {
                int32_t max = -128;
                for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
                    const int32_t iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
                    for (int32_t kx = 0; kx < d->kernel_w; ++kx) {
                        const int32_t ix = ox * d->stride_w - d->pad_left + kx * d->dilation_w;
                        if (iy >= 0 && iy < d->in_h && ix >= 0 && ix < d->in_w) {
                            const int32_t v = input[(iy * d->in_w + ix) * d->in_c + c];
                            max = v > max ? v : max;
                        }
                    }
                }
                *output++ = mcugen_clamp_s8(max, p->act_min, p->act_max);
            }
        }
    }
}

#endif /* MCUGEN_MAX_POOL_S8_DEFINED */
