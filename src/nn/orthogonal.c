/* nn/orthogonal.c - torch.nn.init.orthogonal_ (Saxe et al. 2014): a weight
 * of shape [rows, cols] filled with a (semi-)orthogonal matrix times a gain,
 * as reinforcement-learning code (CleanRL's layer_init) initialises its
 * layers. PyTorch draws a normal [rows, cols] matrix (transposed when rows <
 * cols), takes its QR factorisation, multiplies Q by the signs of R's
 * diagonal, and scales by the gain. Here the factorisation is Gram-Schmidt
 * (modified, each column orthogonalised twice, in double), whose R has a
 * positive diagonal: the same Q as torch's sign-corrected one for the same
 * normal matrix. The normal draws come from eta's own stream (nn/util.c),
 * not torch's, so values differ from torch.manual_seed's; the distribution
 * (Haar-uniform orthogonal) is the same.
 */
#include <math.h>
#include <stdlib.h>

#include "nn/graph.h"

int eta_init_orthogonal(float *w, int64_t rows, int64_t cols, double gain, uint64_t seed)
{
    if (!w || rows < 1 || cols < 1 || !isfinite(gain))
        return ETA_EINVAL;
    /* tall: r x c with r >= c; its c orthonormal columns */
    int64_t r = rows >= cols ? rows : cols, c = rows >= cols ? cols : rows;
    if ((uint64_t)r > SIZE_MAX / sizeof(double) / (uint64_t)c)
        return ETA_ENOMEM;
    size_t n = (size_t)r * (size_t)c;
    float *g = malloc(n * sizeof *g);
    double *q = malloc(n * sizeof *q); /* column-major: column j at q + j*r */
    if (!g || !q) {
        free(g);
        free(q);
        return ETA_ENOMEM;
    }
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    nn_rand_fill_normal(g, n, 0, 1, &s);
    /* torch's flattened matrix is rows x cols row-major; transposed when
     * rows < cols, so that the tall one is r x c. Column j of the tall
     * matrix: element i is g[i*cols + j] (tall = as drawn) or g[j*cols + i]. */
    for (int64_t j = 0; j < c; j++)
        for (int64_t i = 0; i < r; i++)
            q[j * r + i] = rows >= cols ? g[i * cols + j] : g[j * cols + i];
    for (int64_t j = 0; j < c; j++) {
        double *v = q + j * r;
        for (int pass = 0; pass < 2; pass++)
            for (int64_t k = 0; k < j; k++) {
                const double *u = q + k * r;
                double d = 0;
                for (int64_t i = 0; i < r; i++)
                    d += u[i] * v[i];
                for (int64_t i = 0; i < r; i++)
                    v[i] -= d * u[i];
            }
        double norm = 0;
        for (int64_t i = 0; i < r; i++)
            norm += v[i] * v[i];
        norm = sqrt(norm);
        if (norm == 0) /* probability zero for a normal matrix */
            norm = 1;
        for (int64_t i = 0; i < r; i++)
            v[i] /= norm;
    }
    /* back to [rows, cols] row-major: tall Q (rows >= cols) or its transpose */
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            w[i * cols + j] = (float)(gain * (rows >= cols ? q[j * r + i] : q[i * r + j]));
    free(g);
    free(q);
    return ETA_OK;
}
