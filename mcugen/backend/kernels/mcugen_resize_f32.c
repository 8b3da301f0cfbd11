/* mcugen_resize_f32.c: resizing an NHWC image's height and width, float32: nearest
 * neighbour or bilinear, with the source indices and weights computed at compile time
 * (ops/resize.py). */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_RESIZE_F32_DEFINED
#define MCUGEN_RESIZE_F32_DEFINED

typedef struct {
    int32_t in_w, channels, out_h, out_w;
    int32_t linear;              /* 0: nearest; 1: bilinear */
    const int16_t *rows;         /* per output row: its source row (nearest), or y0 and y1 */
    const int16_t *cols;         /* per output column: its source column (nearest), or x0 and x1 */
    const float *wy, *wx;        /* bilinear: y1's weight per output row, x1's per output column */
} mcugen_resize_f32_params_t;

/* Output rows in order, columns in order, channels innermost (the int8 kernel's order). */
MCUGEN_KERNEL void mcugen_resize_f32(const mcugen_resize_f32_params_t *p, const float *input, float *output)
{
    const int32_t c = p->channels, row = p->in_w * p->channels;
    if (!p->linear) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const float *src_row = input + p->rows[oy] * row;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const float *src = src_row + p->cols[ox] * c;
                for (int32_t ch = 0; ch < c; ++ch) {
                    *output++ = src[ch];
                }
            }
        }
        return;
    }
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const float *top = input + p->rows[2 * oy] * row, *bottom = input + p->rows[2 * oy + 1] * row;
        const float wy = p->wy[oy];
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = p->cols[2 * ox] * c, x1 = p->cols[2 * ox + 1] * c;
            const float wx = p->wx[ox];
            for (int32_t ch = 0; ch < c; ++ch) {
                const float upper = top[x0 + ch] * (1.0f - wx) + top[x1 + ch] * wx;
                const float lower = bottom[x0 + ch] * (1.0f - wx) + bottom[x1 + ch] * wx;
                *output++ = upper * (1.0f - wy) + lower * wy;
            }
        }
    }
}

#endif /* MCUGEN_RESIZE_F32_DEFINED */
