/* mcugen_conv_s8.c: standard convolution (group 1), int8. */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_CONV_S8_DEFINED
#define MCUGEN_CONV_S8_DEFINED

#ifndef MCUGEN_DSP
/* One output channel's requantization: the short form where the layer's flag allows it. */
MCUGEN_INLINE int8_t mcugen_conv_requant_s8(int32_t acc, const mcugen_requant_t *r, int32_t oc)
{
    if (r->fast != 0) {  /* the channel form: on the M0, two products where |acc| is within 2^16 */
        const mcugen_channel_q_t c = mcugen_channel_q(r->mult[oc], r->shift[oc]);
        return mcugen_channel_requant_s8(acc, &c, 1 + 2 * r->output_zp, r->act_min, r->act_max);
    }
    return mcugen_requantize_s8(acc, r, oc);
}

/* One output pixel (oy, ox) of the convolution, group 1: output[oc] = requant(bias[oc] +
   sum window * weight[oc]). Its window is gathered once into `col` as int16, taps in
   [ky][kx][ic] order, padded taps holding the input zero point (real zero; the zero point
   is folded into the bias, so they must be added), and an even count (a trailing 0);
   windows inside the input are gathered without bounds checks (rows_inside: the window's
   rows are, as the caller found once per row). The weights were stored the same way at
   compile time, as int16 [O][taps rounded up to even] (ops/conv.py plain_weights), two
   output channels per pass over `col`. The cores without the DSP instructions (M0+) only;
   the others read the window straight from the input (mcugen_conv_dsp_s8 below).
   r: the caller's local copy of the requantization (stores to int8_t may alias *q, not it). */
MCUGEN_INLINE void mcugen_conv_pixel_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *r, const int8_t *input,
                                        const int16_t *weight, const int32_t *bias, int8_t *output, int16_t *col,
                                        int32_t iy0, int32_t rows_inside, int32_t ox)
{
    const int32_t in_c = d->in_c, out_c = d->out_c;
    const int32_t taps = d->kernel_h * d->kernel_w * in_c, pairs = (taps + 1) / 2;
    const int32_t ix0 = ox * d->stride_w - d->pad_left;
    int16_t *c = col;
    if ((rows_inside != 0) && ix0 >= 0 && ix0 + (d->kernel_w - 1) * d->dilation_w < d->in_w) {
        for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
            const int8_t *x = input + ((iy0 + ky * d->dilation_h) * d->in_w + ix0) * in_c;
            for (int32_t kx = 0; kx < d->kernel_w; ++kx, x += d->dilation_w * in_c) {
                for (int32_t ic = 0; ic < in_c; ++ic) {
                    *c++ = x[ic];
                }
            }
        }
    } else {
        for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
            const int32_t iy = iy0 + ky * d->dilation_h;
            for (int32_t kx = 0; kx < d->kernel_w; ++kx) {
                const int32_t ix = ix0 + kx * d->dilation_w;
                if (iy < 0 || iy >= d->in_h || ix < 0 || ix >= d->in_w) {
                    for (int32_t ic = 0; ic < in_c; ++ic) {
                        *c++ = (int16_t)r->input_zp;
                    }
                } else {
                    const int8_t *x = input + (iy * d->in_w + ix) * in_c;
                    for (int32_t ic = 0; ic < in_c; ++ic) {
                        *c++ = x[ic];
                    }
                }
            }
        }
    }
    if (taps % 2 != 0) {
        *c = 0;
    }
    int32_t oc = 0;
    /* Without the DSP instructions (M0+), two output channels per pass over `col`: each
       int16 of the window loaded once for both. */
    for (; oc + 2 <= out_c; oc += 2) {
        const int16_t *w0 = weight + oc * 2 * pairs, *w1 = w0 + 2 * pairs;
        int32_t a0 = bias[oc], a1 = bias[oc + 1];
        for (int32_t t = 0; t < taps; ++t) {
            const int32_t x = col[t];
            a0 += x * w0[t];
            a1 += x * w1[t];
        }
        output[oc] = mcugen_conv_requant_s8(a0, r, oc);
        output[oc + 1] = mcugen_conv_requant_s8(a1, r, oc + 1);
    }
    for (; oc < out_c; ++oc) {
        const int16_t *w = weight + oc * 2 * pairs;
        int32_t acc = bias[oc];
        for (int32_t t = 0; t < taps; ++t) {
            acc += col[t] * w[t];
        }
        output[oc] = mcugen_conv_requant_s8(acc, r, oc);
    }
}

#endif

#ifdef MCUGEN_DSP
/* ---- the DSP cores: the window's rows read straight from the input --------------------
   A kernel row's taps (kx, ic) are kernel_w * in_c contiguous bytes of the input (dilation_w
   1); the weights are stored in the order SMLAD takes those bytes read as words (ops/conv.py
   block_weights): per block of 4 output channels, kernel row and word, the 4 channels'
   int16 pairs, each group of 4 taps two words ((0, 2) then (1, 3): SXTB16 and SXTB16 ROR 8
   of a word of input), a last single tap one word (t, 0), a last 2 or 3 a group with zeros.
   Two output pixels of a row at a time where both windows lie inside the input: each word
   of weights then feeds both pixels, each word of input four channels, 8 accumulators in
   registers; the windows on the border are first gathered into scratch as int8 rows
   (padded taps: the input zero point), then take the one-pixel form of the same code. */

/* Scheduling fences (nothing is emitted): gcc 12's first scheduling pass would move each
   load next to its first use, and on the M4 a load costs 2 cycles unless it follows another
   load or store (then 1), so the fences keep a step's loads in one burst (as the pointwise
   kernel's MCUGEN_PW_FENCE). MCUGEN_CONV_RELOAD also tells gcc memory may have changed, so
   a word of input read again is loaded again rather than kept in a register (8 accumulators,
   4 data registers and 2 pointers are all of r0-r12 and lr: kept, it would be spilled). */
#if defined(__GNUC__) && defined(__ARM_FEATURE_DSP)
#define MCUGEN_CONV_FENCE() __asm__ volatile("")
#define MCUGEN_CONV_RELOAD() __asm__ volatile("" ::: "memory")
#else
#define MCUGEN_CONV_FENCE() ((void)0)
#define MCUGEN_CONV_RELOAD() ((void)0)
#endif

/* Output channels a pair of pixels may have: the second pixel's outputs of all but the last
   block are held back until the first pixel's window is read for the last time (the loop
   order ops/conv.py access declares: one pixel at a time); wider layers take one pixel at a time. */
#define MCUGEN_CONV_PAIR_MAX_C 32

/* Words of a kernel row of row_len taps in the DSP order (ops/conv.py row_words). */
#define MCUGEN_CONV_ROW_WORDS(row_len) (2 * ((row_len) / 4) + ((row_len) % 4 < 2 ? (row_len) % 4 : 2))

/* One word of each pixel's input (two int16 taps: xa, xb) against word k of the block's
   weights (w: the block's row), into the 4 channels' accumulators of each pixel. */
#define MCUGEN_CONV_WORD(xa, xb, k)                                                     \
    do {                                                                                \
        const int32_t w0 = mcugen_read_s16x2(w + 8 * (k)), w1 = mcugen_read_s16x2(w + 8 * (k) + 2); \
        MCUGEN_CONV_FENCE();                                                            \
        a0 = mcugen_smlad((xa), w0, a0);                                                \
        a1 = mcugen_smlad((xa), w1, a1);                                                \
        if (n > 1) {                                                                    \
            b0 = mcugen_smlad((xb), w0, b0);                                            \
            b1 = mcugen_smlad((xb), w1, b1);                                            \
        }                                                                               \
        MCUGEN_CONV_FENCE();                                                            \
        const int32_t w2 = mcugen_read_s16x2(w + 8 * (k) + 4), w3 = mcugen_read_s16x2(w + 8 * (k) + 6); \
        MCUGEN_CONV_FENCE();                                                            \
        a2 = mcugen_smlad((xa), w2, a2);                                                \
        a3 = mcugen_smlad((xa), w3, a3);                                                \
        if (n > 1) {                                                                    \
            b2 = mcugen_smlad((xb), w2, b2);                                            \
            b3 = mcugen_smlad((xb), w3, b3);                                            \
        }                                                                               \
        MCUGEN_CONV_FENCE();                                                            \
    } while (0)

/* One kernel row of the window(s), from xr: its groups of 4 taps (and a last 2 or 3) as
   words, then a last single tap; w steps on through the row's weights. */
#define MCUGEN_CONV_ROW(row)                                                               \
    do {                                                                                   \
        const int8_t *xr = (row);                                                          \
        int32_t c = 0;                                                                     \
        for (; c < full; c += 4, w += 16) {                                                \
            {                                                                              \
                const int32_t va = mcugen_read_s8x4(xr + c);                               \
                const int32_t vb = (n > 1) ? mcugen_read_s8x4(xr + b_step + c) : 0;        \
                MCUGEN_CONV_WORD(mcugen_sxtb16(va), mcugen_sxtb16(vb), 0);                 \
            }                                                                              \
            MCUGEN_CONV_RELOAD();                                                          \
            {   /* the word one byte on: SXTB16 gives taps 1 and 3 without a ROR */        \
                const int32_t va = mcugen_read_s8x4(xr + c + 1);                           \
                const int32_t vb = (n > 1) ? mcugen_read_s8x4(xr + b_step + c + 1) : 0;    \
                MCUGEN_CONV_WORD(mcugen_sxtb16(va), mcugen_sxtb16(vb), 1);                 \
            }                                                                              \
            MCUGEN_CONV_RELOAD();                                                          \
        }                                                                                  \
        if (row_len - full == 1) { /* a single tap: its byte sign-extended is the pair (x, -1 or 0), its weights (t, 0) */ \
            const int32_t va = xr[c], vb = (n > 1) ? xr[b_step + c] : 0;                   \
            MCUGEN_CONV_WORD(va, vb, 0);                                                   \
            w += 8;                                                                        \
        }                                                                                  \
    } while (0)

/* One output channel's value for 1 or 2 pixels, its constants read once. */
MCUGEN_INLINE void mcugen_conv_out2_s8(const mcugen_requant_t *r, int32_t oc, int32_t a, int32_t b, int32_t n,
                                       int8_t *out_a, int8_t *out_b)
{
    int32_t va, vb = 0;
    if (r->fast != 0) {
        const int32_t m = r->mult[oc], s = r->shift[oc];
        va = mcugen_requant_short_s8(a, m, s, r->output_zp, r->act_min, r->act_max);
        if (n > 1) {
            vb = mcugen_requant_short_s8(b, m, s, r->output_zp, r->act_min, r->act_max);
        }
    } else {
        va = mcugen_requantize_s8(a, r, oc);
        if (n > 1) {
            vb = mcugen_requantize_s8(b, r, oc);
        }
    }
    out_a[oc] = (int8_t)va;
    if (n > 1) {
        out_b[oc] = (int8_t)vb;
    }
}

/* n (1 or 2, a constant at each call) output pixels: the first's window rows from x, a row
   every row_step bytes, the second's b_step bytes after it; outputs to out_a, and out_b
   (the second pixel's: written only after the first's window is read for the last time;
   until then in held, MCUGEN_CONV_PAIR_MAX_C bytes).
   Up to 4 bytes past each row's end are read (the words of a last partial group, and the
   word one byte on): they meet zero weights, and the caller makes sure they exist. */
MCUGEN_INLINE void mcugen_conv_rows_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *r, const int8_t *x,
                                       int32_t row_step, int32_t b_step, int32_t n, const int16_t *weight,
                                       const int32_t *bias, int8_t *out_a, int8_t *out_b, int8_t *held)
{
    const int32_t out_c = d->out_c, kh = d->kernel_h, row_len = d->kernel_w * d->in_c;
    /* groups read as words: every group of 4 taps, and a last 2 or 3 (not a last single tap) */
    const int32_t full = (row_len + 2) / 4 * 4, words = MCUGEN_CONV_ROW_WORDS(row_len);
    for (int32_t oc = 0; oc < out_c; oc += 4) {
        int8_t *ob = (oc + 4 >= out_c) ? out_b : held;  /* the last block's are written in place */
        int32_t a0 = bias[oc];
        int32_t a1 = (oc + 1 < out_c) ? bias[oc + 1] : 0;
        int32_t a2 = (oc + 2 < out_c) ? bias[oc + 2] : 0;
        int32_t a3 = (oc + 3 < out_c) ? bias[oc + 3] : 0;
        int32_t b0 = a0, b1 = a1, b2 = a2, b3 = a3;
        const int16_t *w = weight + 2 * oc * kh * words;  /* the block's weights */
        /* the first three rows unrolled (gcc keeps a loop of 3 a loop, with a spill per row) */
        MCUGEN_CONV_ROW(x);
        if (kh > 1) {
            MCUGEN_CONV_ROW(x + row_step);
        }
        if (kh > 2) {
            MCUGEN_CONV_ROW(x + 2 * row_step);
        }
        for (int32_t ky = 3; ky < kh; ++ky) {
            MCUGEN_CONV_ROW(x + ky * row_step);
        }
        /* fenced, one channel after another: gcc would otherwise start all eight outputs'
           requantization at once and spill */
        MCUGEN_CONV_FENCE();
        mcugen_conv_out2_s8(r, oc, a0, b0, n, out_a, ob);
        MCUGEN_CONV_FENCE();
        if (oc + 1 < out_c) {
            mcugen_conv_out2_s8(r, oc + 1, a1, b1, n, out_a, ob);
        }
        MCUGEN_CONV_FENCE();
        if (oc + 2 < out_c) {
            mcugen_conv_out2_s8(r, oc + 2, a2, b2, n, out_a, ob);
        }
        MCUGEN_CONV_FENCE();
        if (oc + 3 < out_c) {
            mcugen_conv_out2_s8(r, oc + 3, a3, b3, n, out_a, ob);
        }
        MCUGEN_CONV_FENCE();
    }
    if (n > 1) {  /* the held outputs: all but the last block's, each written above */
        for (int32_t oc = 0; oc < (out_c - 1) / 4 * 4; ++oc) {
            out_b[oc] = held[oc];
        }
    }
}

/* One output pixel (oy, ox) on the DSP cores: straight from the input where its window lies
   inside (inside: as the caller found), else from its window gathered into `col` as int8
   rows of kernel_w * in_c taps (padded taps: the input zero point, real zero). */
MCUGEN_INLINE void mcugen_conv_one_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *r, const int8_t *input,
                                      const int16_t *weight, const int32_t *bias, int8_t *output, int8_t *col,
                                      int32_t iy0, int32_t ix0, int32_t inside)
{
    const int32_t in_c = d->in_c, row_len = d->kernel_w * in_c;
    if (inside != 0) {
        mcugen_conv_rows_s8(d, r, input + (iy0 * d->in_w + ix0) * in_c, d->dilation_h * d->in_w * in_c, 0, 1,
                            weight, bias, output, output, output);
        return;
    }
    int8_t *c = col;
    for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
        const int32_t iy = iy0 + ky * d->dilation_h;
        for (int32_t kx = 0; kx < d->kernel_w; ++kx) {
            const int32_t ix = ix0 + kx * d->dilation_w;
            if (iy < 0 || iy >= d->in_h || ix < 0 || ix >= d->in_w) {
                for (int32_t ic = 0; ic < in_c; ++ic) {
                    *c++ = (int8_t)r->input_zp;
                }
            } else {
                const int8_t *x = input + (iy * d->in_w + ix) * in_c;
                for (int32_t ic = 0; ic < in_c; ++ic) {
                    *c++ = x[ic];
                }
            }
        }
    }
    for (int32_t i = 0; i < 4; ++i) {  /* the bytes read past the last row (zero weights): defined */
        *c++ = 0;
    }
    mcugen_conv_rows_s8(d, r, col, row_len, 0, 1, weight, bias, output, output, output);
}

/* The DSP cores' layer: output pixels in row-major order, two at a time where both windows
   lie inside the input (see mcugen_conv_rows_s8 for the order of their writes); with
   dims->backward the same from the last pixel to the first. */
MCUGEN_INLINE void mcugen_conv_dsp_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *r, const int8_t *input,
                                      const int16_t *weight, const int32_t *bias, int8_t *output, int8_t *col)
{
    const int32_t out_c = d->out_c, in_c = d->in_c, sw = d->stride_w, kw = d->kernel_w;
    const int32_t row_step = d->dilation_h * d->in_w * in_c, size = d->in_h * d->in_w * in_c;
    /* columns ox with the window inside the input: [ox_lo, ox_hi] (only when dilation_w is 1) */
    const int32_t direct = (int32_t)(d->dilation_w == 1), pairs = (int32_t)(out_c <= MCUGEN_CONV_PAIR_MAX_C);
    int8_t held[MCUGEN_CONV_PAIR_MAX_C] = {0};  /* a pair's second pixel's outputs (mcugen_conv_rows_s8) */
    for (int32_t i = 0; i < d->out_h; ++i) {
        const int32_t oy = (d->backward != 0) ? d->out_h - 1 - i : i;
        const int32_t iy0 = oy * d->stride_h - d->pad_top;
        const int32_t rows_inside = (int32_t)((direct != 0) && (iy0 >= 0) &&
                                              (iy0 + (d->kernel_h - 1) * d->dilation_h < d->in_h));
        int8_t *y = output + oy * d->out_w * out_c;
        /* one past the window's last row, for ox = 0: a window is read straight from the input
           when inside and 4 bytes follow its last row there (mcugen_conv_rows_s8 reads them) */
        const int32_t end0 = ((iy0 + (d->kernel_h - 1) * d->dilation_h) * d->in_w - d->pad_left + kw) * in_c + 4 -
                             ((kw * in_c) % 4 == 1 ? size : 0);  /* a row of 4k + 1 bytes reads none past it */
        if (d->backward == 0) {
            int32_t ox = 0;
            while (ox < d->out_w) {  /* one or two pixels a pass */
                const int32_t ix0 = ox * sw - d->pad_left;
                const int32_t inside = (int32_t)((rows_inside != 0) && ix0 >= 0 && ix0 + kw - 1 < d->in_w &&
                                                 end0 + ox * sw * in_c <= size);
                if ((pairs != 0) && (inside != 0) && ox + 1 < d->out_w && ix0 + sw + kw - 1 < d->in_w &&
                    end0 + (ox + 1) * sw * in_c <= size) {
                    mcugen_conv_rows_s8(d, r, input + (iy0 * d->in_w + ix0) * in_c, row_step, sw * in_c, 2, weight,
                                        bias, y + ox * out_c, y + (ox + 1) * out_c, held);
                    ox += 2;
                } else {
                    mcugen_conv_one_s8(d, r, input, weight, bias, y + ox * out_c, col, iy0, ix0, inside);
                    ox += 1;
                }
            }
        } else {
            int32_t ox = d->out_w - 1;
            while (ox >= 0) {  /* one or two pixels a pass */
                const int32_t ix0 = ox * sw - d->pad_left;
                const int32_t inside = (int32_t)((rows_inside != 0) && ix0 >= 0 && ix0 + kw - 1 < d->in_w &&
                                                 end0 + ox * sw * in_c <= size);
                if ((pairs != 0) && (inside != 0) && ox >= 1 && ix0 - sw >= 0) {
                    /* the pair (ox - 1, ox): here the held pixel is ox - 1, written once ox's window is read */
                    mcugen_conv_rows_s8(d, r, input + (iy0 * d->in_w + ix0) * in_c, row_step, -sw * in_c, 2, weight,
                                        bias, y + ox * out_c, y + (ox - 1) * out_c, held);
                    ox -= 2;
                } else {
                    mcugen_conv_one_s8(d, r, input, weight, bias, y + ox * out_c, col, iy0, ix0, inside);
                    ox -= 1;
                }
            }
        }
    }
}
#endif

/* Convolution, group 1, output pixels in row-major order (ops/conv.py access); with
   dims->backward, from the last pixel to the first (ops/conv.py backward_access), so that
   the output may overlap the input from above (the planner's choice, where that lowers
   the arena). `col`: one pixel's window, as int16 on the plain cores, as int8 rows on the
   DSP cores (ops/conv.py scratch). weight: ops/conv.py arrays, each core's order. */
MCUGEN_SPECIALIZED void mcugen_conv_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *q, const int8_t *input,
                                       const int16_t *weight, const int32_t *bias, int8_t *output, int16_t *col)
{
    const mcugen_requant_t r = *q;  /* a local copy: stores to int8_t may alias *q, not r */
    const int32_t out_c = d->out_c;
#ifdef MCUGEN_DSP
    (void)out_c;
    mcugen_conv_dsp_s8(d, &r, input, weight, bias, output, (int8_t *)(void *)col);
#else
    if (d->backward != 0) {  /* a constant: the specialized layer keeps one of the two loops */
        int8_t *y = output + d->out_h * d->out_w * out_c;  /* one past the pixel being written */
        for (int32_t oy = d->out_h - 1; oy >= 0; --oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_top;
            const int32_t rows_inside = (int32_t)((iy0 >= 0) && (iy0 + (d->kernel_h - 1) * d->dilation_h < d->in_h));
            for (int32_t ox = d->out_w - 1; ox >= 0; --ox) {
                y = y - out_c;
                mcugen_conv_pixel_s8(d, &r, input, weight, bias, y, col, iy0, rows_inside, ox);
            }
        }
        return;
    }
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
        const int32_t iy0 = oy * d->stride_h - d->pad_top;
        const int32_t rows_inside = (int32_t)((iy0 >= 0) && (iy0 + (d->kernel_h - 1) * d->dilation_h < d->in_h));
        for (int32_t ox = 0; ox < d->out_w; ++ox) {
            mcugen_conv_pixel_s8(d, &r, input, weight, bias, output, col, iy0, rows_inside, ox);
            output = output + out_c;
        }
    }
#endif
}

#endif /* MCUGEN_CONV_S8_DEFINED */
