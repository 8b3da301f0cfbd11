/* mcugen_avg_pool_s8.c: average pooling, int8 (same scale and zero point in and out). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_AVG_POOL_S8_DEFINED
#define MCUGEN_AVG_POOL_S8_DEFINED

/* sum / count rounded half away from zero, as TFLite's AVERAGE_POOL_2D (C division
   truncates toward zero). */
MCUGEN_INLINE int32_t mcugen_rounding_div(int32_t sum, int32_t count)
{
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

typedef struct {
    int32_t input_zp;            /* the value of a padded tap when it is counted */
    int32_t count_include_pad;   /* ONNX's attribute: 0 skips padded taps, 1 counts them */
    int32_t act_min, act_max;
} mcugen_avg_pool_s8_params_t;

/* Average pooling: the rounded mean of the raw int8 values in each window. */
MCUGEN_KERNEL void mcugen_avg_pool_s8(const mcugen_conv_dims_t *d, const mcugen_avg_pool_s8_params_t *p,
                                      const int8_t *input, int8_t *output)
{
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
        for (int32_t ox = 0; ox < d->out_w; ++ox) {
            for (int32_t c = 0; c < d->out_c; ++c) {
                int32_t sum = 0;
                int32_t count = 0;
                for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
                    const int32_t iy = oy * d->stride_h - d->pad_top + ky;
                    for (int32_t kx = 0; kx < d->kernel_w; ++kx) {
                        const int32_t ix = ox * d->stride_w - d->pad_left + kx;
                        if (iy >= 0 && iy < d->in_h && ix >= 0 && ix < d->in_w) {
                            sum += input[(iy * d->in_w + ix) * d->in_c + c];
                            ++count;
                        } else if (p->count_include_pad != 0) {
                            sum += p->input_zp;
                            ++count;
                        } else {
                            /* padding, not counted */
                        }
                    }
                }
                *output++ = mcugen_clamp_s8(mcugen_rounding_div(sum, count), p->act_min, p->act_max);
            }
        }
    }
}

#endif /* MCUGEN_AVG_POOL_S8_DEFINED */
