/* mcugen_row_pipeline_s8.c: layers run as one pipeline of row windows (mcugen/planner/rows.py),
 * int8: the first layers of a model (--row-input), or a fused segment from a whole tensor. */
#include <string.h>

#include "mcugen_common_s8.h"

#ifndef MCUGEN_ROW_PIPELINE_S8_DEFINED
#define MCUGEN_ROW_PIPELINE_S8_DEFINED

/* One output row of a stage: its kernel (out_h = 1) run on the `rows` input rows in
   `window`, with pad_top rows of padding above the first, into `out`; `row` is the output
   row's index (a residual add reads its other input there). `arena`: where the kernel's
   own scratch is (generated per layer: NAME_lK_row). */
typedef void (*mcugen_row_fn_t)(int8_t *arena, const int8_t *window, int32_t rows, int32_t pad_top, int32_t row,
                                int8_t *out);

/* A stage: a layer that reads rows of its input through a window of at most kernel_h
   rows (planner/rows.py, Stage), kept contiguous and in order at arena + window. */
typedef struct {
    int32_t in_h, kernel_h, stride_h, pad_top, out_h;
    int32_t row_bytes;  /* one row of the stage's input */
    int32_t window;     /* the window's offset in the arena */
    mcugen_row_fn_t row;
} mcugen_row_stage_t;

/* A stage's progress: its window holds input rows top .. top + rows - 1; done output
   rows are written. */
typedef struct {
    int32_t top, rows, done;
} mcugen_row_state_t;

/* Runs the stages until the last one has written all its output rows, in order, to
   `output`. Pull, without recursion: stage k runs its next output row when its window
   holds the rows that row needs, else it asks its producer (stage k - 1, or the source
   for stage 0) for the next row, written at the end of its window. Rows leave a window
   from the top (memmove) once no later output row needs them, so every row of every
   stage is computed once. The source of stage 0: input_row (the firmware's rows, each
   once, in order: --row-input's pipeline), or, when `source` is not NULL, a whole tensor
   in the arena (a fused segment), whose rows stage 0 reads in place: its window is
   source + top rows, nothing is copied. */
MCUGEN_KERNEL void mcugen_row_pipeline_s8(const mcugen_row_stage_t *stages, mcugen_row_state_t *state,
                                          int32_t count, int8_t *arena, void (*input_row)(int32_t row, int8_t *dst),
                                          const int8_t *source, int8_t *output, int32_t out_row_bytes)
{
    int32_t k = count - 1;
    for (int32_t i = 0; i < count; ++i) {
        state[i].top = 0;
        state[i].rows = 0;
        state[i].done = 0;
    }
    while (state[count - 1].done < stages[count - 1].out_h) {
        const mcugen_row_stage_t *s = &stages[k];
        mcugen_row_state_t *t = &state[k];
        const int8_t *const in_place = (k == 0) ? source : NULL;  /* not NULL: stage 0 reads the source's rows there */
        const int32_t want = t->done * s->stride_h - s->pad_top;  /* the next window's first row; < 0: padding */
        const int32_t first = want > 0 ? want : 0;
        const int32_t last = want + s->kernel_h - 1 < s->in_h - 1 ? want + s->kernel_h - 1 : s->in_h - 1;
        const int8_t *window;
        if (first > t->top) {  /* rows above the window are no longer needed */
            const int32_t drop = first - t->top < t->rows ? first - t->top : t->rows;
            if (in_place == NULL) {
                int8_t *own = arena + s->window;
                const int32_t kept = (t->rows - drop) * s->row_bytes;
                (void)memmove(own, own + drop * s->row_bytes, (size_t)kept);
            }
            t->rows -= drop;
            t->top = first;
        }
        window = (in_place != NULL) ? in_place + t->top * s->row_bytes : arena + s->window;
        if (t->top + t->rows > last) {  /* the window is complete: one output row */
            if (k == count - 1) {
                s->row(arena, window, t->rows, first - want, t->done, output + t->done * out_row_bytes);
                t->done += 1;
            } else {
                const mcugen_row_stage_t *next = &stages[k + 1];
                mcugen_row_state_t *u = &state[k + 1];
                s->row(arena, window, t->rows, first - want, t->done, arena + next->window + u->rows * next->row_bytes);
                t->done += 1;
                u->rows += 1;
                k += 1;  /* back to the consumer, which may now run */
            }
        } else if (k == 0) {
            if (in_place == NULL) {
                input_row(t->top + t->rows, arena + s->window + t->rows * s->row_bytes);
            }
            t->rows += 1;
        } else {
            k -= 1;  /* the producer's next row is the one this window lacks */
        }
    }
}

#endif /* MCUGEN_ROW_PIPELINE_S8_DEFINED */
