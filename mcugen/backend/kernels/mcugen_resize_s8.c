/* mcugen_resize_s8.c: resizing an NHWC image's height and width, int8 (same scale and zero
 * point in and out): nearest neighbour, a gather, or bilinear, TFLite's integer blend. Where
 * each output row and column reads from is a table computed at compile time (ops/resize.py). */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_RESIZE_S8_DEFINED
#define MCUGEN_RESIZE_S8_DEFINED

typedef struct {
    int32_t in_w, channels, out_h, out_w;
    int32_t linear;              /* 0: nearest; 1: bilinear */
    const int16_t *rows;         /* per output row: its source row (nearest), or y0, y1 and y1's weight wy in 1/1024 */
    const int16_t *cols;         /* per output column: its source column (nearest), or x0, x1 and wx */
} mcugen_resize_s8_params_t;

/* Output rows in order, columns in order, channels innermost. Bilinear: per channel
   v = (v00 (1024 - wx) + v01 wx) (1024 - wy) + (v10 (1024 - wx) + v11 wx) wy, then v / 2^20
   rounded half away from zero (TFLite's ResizeBilinearInteger; |v| < 2^28). */
MCUGEN_KERNEL void mcugen_resize_s8(const mcugen_resize_s8_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t c = p->channels, row = p->in_w * p->channels;
    if (!p->linear) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int8_t *src_row = input + p->rows[oy] * row;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int8_t *src = src_row + p->cols[ox] * c;
                for (int32_t ch = 0; ch < c; ++ch) {
                    *output++ = src[ch];
                }
            }
        }
        return;
    }
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int16_t *ry = &p->rows[3 * oy];
        const int8_t *top = input + ry[0] * row, *bottom = input + ry[1] * row;
        const int32_t wy = ry[2];
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int16_t *rx = &p->cols[3 * ox];
            const int32_t x0 = rx[0] * c, x1 = rx[1] * c, wx = rx[2];
            for (int32_t ch = 0; ch < c; ++ch) {
                const int32_t upper = top[x0 + ch] * (1024 - wx) + top[x1 + ch] * wx;
                const int32_t lower = bottom[x0 + ch] * (1024 - wx) + bottom[x1 + ch] * wx;
                *output++ = (int8_t)mcugen_rounding_divide_by_pot(upper * (1024 - wy) + lower * wy, 20);
            }
        }
    }
}

#endif /* MCUGEN_RESIZE_S8_DEFINED */
