/* mcugen_pointwise_depthwise_s8.c: a pointwise convolution streamed into the depthwise
 * convolution after it (planner.decide_streams), int8. */
#include <string.h>

#include "mcugen_common_s8.h"

#ifndef MCUGEN_POINTWISE_DEPTHWISE_S8_DEFINED
#define MCUGEN_POINTWISE_DEPTHWISE_S8_DEFINED

/* The two kernels it runs. A model has them pasted before this file; built on its own,
   they are in their own objects. */
#ifndef MCUGEN_POINTWISE_CONV_S8_DEFINED
MCUGEN_SPECIALIZED void mcugen_pointwise_conv_s8(const mcugen_pointwise_dims_t *d, const mcugen_requant_t *q,
                                                 const int8_t *input, const void *weight, const int32_t *bias,
                                                 int8_t *output, int32_t *scratch);
#endif
#ifndef MCUGEN_DEPTHWISE_CONV_S8_DEFINED
MCUGEN_SPECIALIZED void mcugen_depthwise_conv_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *q,
                                                 const int8_t *input, const int16_t *weight, const int32_t *bias,
                                                 int8_t *output, const mcugen_padded_copy_t *copy, int8_t *scratch);
#endif

#ifdef MCUGEN_DSP
/* With the DSP kernels, one output row of the depthwise convolution, from the window's `rows`
   rows (pad_top of them above the input), out of line: inlined into the loop that also runs
   the pointwise rows and moves the window, gcc 12 kept the depthwise blocks' pointers on the
   stack (VWW's layer 3 on the M4: about 300 instructions per block of a pixel pair, against
   250 in a layer of its own). Out of line, the layer's constants still reach it (gcc
   propagates a single caller's constant arguments) and the blocks have the registers to
   themselves. On the M0+ the loop keeps it inlined: out of line it measured 1.6% slower. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void mcugen_pointwise_depthwise_row_s8(const mcugen_conv_dims_t *dd, const mcugen_requant_t *dq,
                                              const int16_t *dw_weight, const int32_t *dw_bias,
                                              const int8_t *window, int32_t rows, int32_t pad_top, int8_t *output)
{
    mcugen_conv_dims_t one_out = *dd;
    one_out.out_h = 1;
    one_out.in_h = rows;
    one_out.pad_top = pad_top;
    mcugen_depthwise_conv_s8(&one_out, dq, window, dw_weight, dw_bias, output, NULL, NULL);
}
#endif

/* A pointwise convolution run inside the depthwise convolution that reads it, row by row:
   its output never exists whole. For each depthwise output row (in order), the pointwise
   rows the window adds are computed into `window`, which holds at most kernel_h rows,
   contiguous and in order, from row `top` on; then that one output row is convolved from
   the window with the depthwise kernel itself. Rows leave the window from the top
   (memmove), so a row is computed once. The loop order ops/depthwise_conv.py's
   stream_access declares: an output row is written after the input rows it needs are read. */
MCUGEN_SPECIALIZED void mcugen_pointwise_depthwise_s8(const mcugen_pointwise_dims_t *pd, const mcugen_requant_t *pq,
                                                      const void *pw_weight, const int32_t *pw_bias,
                                                      const mcugen_conv_dims_t *dd, const mcugen_requant_t *dq,
                                                      const int16_t *dw_weight, const int32_t *dw_bias,
                                                      const int8_t *input, int8_t *output, int8_t *window,
                                                      int32_t *pw_scratch)
{
    const int32_t row_in = dd->in_w * pd->in_c, row_mid = dd->in_w * dd->in_c;
    mcugen_pointwise_dims_t one_row = *pd;
    int32_t top = 0, rows = 0;  /* the window holds pointwise rows top .. top + rows - 1 */
#ifndef MCUGEN_DSP
    mcugen_conv_dims_t one_out = *dd;
    one_out.out_h = 1;
#endif
    one_row.pixels = dd->in_w;
    for (int32_t oy = 0; oy < dd->out_h; ++oy, output += dd->out_w * dd->out_c) {
        const int32_t want = oy * dd->stride_h - dd->pad_top;  /* the window's first row; < 0: padding */
        const int32_t first = want > 0 ? want : 0;
        const int32_t last = want + dd->kernel_h - 1 < dd->in_h - 1 ? want + dd->kernel_h - 1 : dd->in_h - 1;
        if (first > top) {  /* rows above the window are no longer needed */
            const int32_t drop = first - top < rows ? first - top : rows;
            const int32_t kept = (rows - drop) * row_mid;
            (void)memmove(window, window + drop * row_mid, (size_t)kept);
            rows -= drop;
            top = first;
        }
        for (; top + rows <= last; ++rows) {
            mcugen_pointwise_conv_s8(&one_row, pq, input + (top + rows) * row_in, pw_weight, pw_bias,
                                     window + rows * row_mid, pw_scratch);
        }
#ifdef MCUGEN_DSP
        mcugen_pointwise_depthwise_row_s8(dd, dq, dw_weight, dw_bias, window, rows, first - want, output);
#else
        one_out.in_h = rows;
        one_out.pad_top = first - want;
        mcugen_depthwise_conv_s8(&one_out, dq, window, dw_weight, dw_bias, output, NULL, NULL);
#endif
    }
}

#endif /* MCUGEN_POINTWISE_DEPTHWISE_S8_DEFINED */
