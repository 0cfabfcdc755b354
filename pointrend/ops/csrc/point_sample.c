/*
 * CPU kernels for sampling feature maps at normalised point coordinates.
 *
 * Semantics are those of grid_sample(features, 2 * coords - 1, align_corners=False) with zero
 * padding, for coords [N, P, 2] in (x, y) order:
 *   bilinear: weighted sum of the four neighbouring pixels, out-of-map neighbours count as 0;
 *   nearest:  the pixel at round-half-to-even of the continuous position, 0 outside the map.
 *
 * Layout: features [N, C, H, W], output [N, C, P], all float32 and contiguous. The caller passes
 * raw addresses (this module never sees a tensor type) and an explicit thread count.
 *
 * Speed: the neighbour offsets and weights of every point are computed once per image and shared
 * by all channels. Work is split over the N * C rows, and each row walks its points against one
 * H x W plane, which stays in cache. In the backward pass each row scatters into its own plane
 * only, so the accumulation needs no atomics and its summation order is fixed. Rows are handed
 * out with guided scheduling so that a thread delayed by other processes does not hold up the rest.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#define POINTREND_HAS_OPENMP 1
#else
#define POINTREND_HAS_OPENMP 0
#endif

enum { MODE_BILINEAR = 0, MODE_NEAREST = 1 };

/* Below this many multiply-adds, starting a thread team costs more than it saves. */
#define MIN_WORK_PER_THREAD 32768

/* Up to four taps per point: plane offsets and weights. Taps that fall outside the map get
 * weight 0 and offset 0, so the inner loops need no bounds checks. (With finite inputs this is
 * exact; an Inf or NaN in pixel 0 would leak into such taps as 0 * Inf = NaN.) */
typedef struct {
    int32_t *offset;
    float *weight;
    int taps;
} PointTaps;

static int threads_for(int64_t work, int requested) {
    int64_t useful = work / MIN_WORK_PER_THREAD;
    if (useful < 1) useful = 1;
    return requested < useful ? requested : (int)useful;
}

/* Continuous pixel position of a normalised coordinate, in the same float32 steps as Paddle's
 * grid_sample: grid = 2c - 1, then (grid + 1) * size / 2 - 0.5. */
static inline float pixel_position(float normalised, int64_t size) {
    float grid = 2.0f * normalised - 1.0f;
    return (grid + 1.0f) * ((float)size * 0.5f) - 0.5f;
}

static inline int inside(int64_t x, int64_t y, int64_t width, int64_t height) {
    return x >= 0 && x < width && y >= 0 && y < height;
}

/* Positions this far outside the map (or NaN) touch no pixel; rejecting them first also keeps
 * the float-to-integer conversions below in range. */
static inline int near_map(float px, float py, int64_t height, int64_t width) {
    return px > -1.0f && px < (float)width && py > -1.0f && py < (float)height;
}

static void bilinear_taps(float px, float py, int64_t height, int64_t width, int32_t *offset,
                          float *weight) {
    if (!near_map(px, py, height, width)) {
        memset(offset, 0, 4 * sizeof(int32_t));
        memset(weight, 0, 4 * sizeof(float));
        return;
    }
    float x0f = floorf(px), y0f = floorf(py);
    float dx = px - x0f, dy = py - y0f;
    float wx[2] = {1.0f - dx, dx};
    float wy[2] = {1.0f - dy, dy};
    int64_t x0 = (int64_t)x0f, y0 = (int64_t)y0f;
    for (int j = 0; j < 2; ++j) {
        for (int i = 0; i < 2; ++i) {
            int k = 2 * j + i;
            int64_t x = x0 + i, y = y0 + j;
            if (inside(x, y, width, height)) {
                offset[k] = (int32_t)(y * width + x);
                weight[k] = wx[i] * wy[j];
            } else {
                offset[k] = 0;
                weight[k] = 0.0f;
            }
        }
    }
}

static void nearest_tap(float px, float py, int64_t height, int64_t width, int32_t *offset,
                        float *weight) {
    if (!near_map(px, py, height, width)) {
        *offset = 0;
        *weight = 0.0f;
        return;
    }
    /* nearbyintf rounds half to even in the default rounding mode, as grid_sample does. */
    int64_t x = (int64_t)nearbyintf(px), y = (int64_t)nearbyintf(py);
    int in = inside(x, y, width, height);
    *offset = in ? (int32_t)(y * width + x) : 0;
    *weight = in ? 1.0f : 0.0f;
}

/* Fills taps for all N * P points; layout [N, P, taps]. Returns 0 when out of memory. */
static int compute_taps(const float *coords, int64_t n, int64_t height, int64_t width, int64_t p,
                        int mode, int threads, PointTaps *out) {
    int taps = mode == MODE_BILINEAR ? 4 : 1;
    int64_t count = n * p * taps;
    out->taps = taps;
    out->offset = (int32_t *)malloc((size_t)(count > 0 ? count : 1) * sizeof(int32_t));
    out->weight = (float *)malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    if (!out->offset || !out->weight) {
        free(out->offset);
        free(out->weight);
        return 0;
    }
    int64_t points = n * p;
#pragma omp parallel for num_threads(threads_for(points * 16, threads)) schedule(guided)
    for (int64_t q = 0; q < points; ++q) {
        float px = pixel_position(coords[2 * q], width);
        float py = pixel_position(coords[2 * q + 1], height);
        if (mode == MODE_BILINEAR)
            bilinear_taps(px, py, height, width, out->offset + 4 * q, out->weight + 4 * q);
        else
            nearest_tap(px, py, height, width, out->offset + q, out->weight + q);
    }
    return 1;
}

static void free_taps(PointTaps *t) {
    free(t->offset);
    free(t->weight);
}

static void forward_rows(const float *features, const PointTaps *t, float *out, int64_t n,
                         int64_t c, int64_t plane_size, int64_t p, int threads) {
    int64_t rows = n * c;
#pragma omp parallel for num_threads(threads_for(rows * p * t->taps, threads)) schedule(guided)
    for (int64_t row = 0; row < rows; ++row) {
        const float *plane = features + row * plane_size;
        const int32_t *off = t->offset + (row / c) * p * t->taps;
        const float *w = t->weight + (row / c) * p * t->taps;
        float *dst = out + row * p;
        if (t->taps == 4) {
            for (int64_t q = 0; q < p; ++q, off += 4, w += 4)
                dst[q] = plane[off[0]] * w[0] + plane[off[1]] * w[1] + plane[off[2]] * w[2] +
                         plane[off[3]] * w[3];
        } else {
            for (int64_t q = 0; q < p; ++q) dst[q] = plane[off[q]] * w[q];
        }
    }
}

static void backward_rows(const float *grad_out, const PointTaps *t, float *grad_features,
                          int64_t n, int64_t c, int64_t plane_size, int64_t p, int threads) {
    int64_t rows = n * c;
    /* Zeroing is part of the row loop so that it runs in parallel and leaves the plane in cache
     * for the scatter that follows. */
#pragma omp parallel for num_threads(threads_for(rows * (p * t->taps + plane_size), threads)) \
    schedule(guided)
    for (int64_t row = 0; row < rows; ++row) {
        float *plane = grad_features + row * plane_size;
        const int32_t *off = t->offset + (row / c) * p * t->taps;
        const float *w = t->weight + (row / c) * p * t->taps;
        const float *g = grad_out + row * p;
        memset(plane, 0, (size_t)plane_size * sizeof(float));
        if (t->taps == 4) {
            for (int64_t q = 0; q < p; ++q, off += 4, w += 4) {
                plane[off[0]] += w[0] * g[q];
                plane[off[1]] += w[1] * g[q];
                plane[off[2]] += w[2] * g[q];
                plane[off[3]] += w[3] * g[q];
            }
        } else {
            for (int64_t q = 0; q < p; ++q) plane[off[q]] += w[q] * g[q];
        }
    }
}

static int check_sizes(int mode, int64_t n, int64_t c, int64_t h, int64_t w, int64_t p,
                       int threads) {
    if (mode != MODE_BILINEAR && mode != MODE_NEAREST) {
        PyErr_Format(PyExc_ValueError, "mode must be %d (bilinear) or %d (nearest), got %d",
                     MODE_BILINEAR, MODE_NEAREST, mode);
        return 0;
    }
    if (n < 0 || c < 0 || h < 1 || w < 1 || p < 0 || threads < 1) {
        PyErr_SetString(PyExc_ValueError,
                        "sizes must satisfy N, C, P >= 0, H, W >= 1 and threads >= 1");
        return 0;
    }
    if (h * w > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "maps with more than 2^31 - 1 pixels per plane are not supported");
        return 0;
    }
    return 1;
}

/* forward(mode, features, coords, out, N, C, H, W, P, threads) */
static PyObject *py_forward(PyObject *self, PyObject *args) {
    int mode, threads;
    unsigned long long features, coords, out;
    long long n, c, h, w, p;
    if (!PyArg_ParseTuple(args, "iKKKLLLLLi", &mode, &features, &coords, &out, &n, &c, &h, &w,
                          &p, &threads))
        return NULL;
    if (!check_sizes(mode, n, c, h, w, p, threads)) return NULL;
    PointTaps taps;
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = compute_taps((const float *)(uintptr_t)coords, n, h, w, p, mode, threads, &taps);
    if (ok) {
        forward_rows((const float *)(uintptr_t)features, &taps, (float *)(uintptr_t)out, n, c,
                     h * w, p, threads);
        free_taps(&taps);
    }
    Py_END_ALLOW_THREADS
    if (!ok) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* backward(mode, grad_out, coords, grad_features, N, C, H, W, P, threads); grad_features is
 * fully overwritten. */
static PyObject *py_backward(PyObject *self, PyObject *args) {
    int mode, threads;
    unsigned long long grad_out, coords, grad_features;
    long long n, c, h, w, p;
    if (!PyArg_ParseTuple(args, "iKKKLLLLLi", &mode, &grad_out, &coords, &grad_features, &n, &c,
                          &h, &w, &p, &threads))
        return NULL;
    if (!check_sizes(mode, n, c, h, w, p, threads)) return NULL;
    PointTaps taps;
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = compute_taps((const float *)(uintptr_t)coords, n, h, w, p, mode, threads, &taps);
    if (ok) {
        backward_rows((const float *)(uintptr_t)grad_out, &taps,
                      (float *)(uintptr_t)grad_features, n, c, h * w, p, threads);
        free_taps(&taps);
    }
    Py_END_ALLOW_THREADS
    if (!ok) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* sample_labels(labels, coords, out, N, H, W, P, ignore_index, threads): nearest sampling of an
 * int64 label map [N, H, W] into out [N, P]; points outside the map get ignore_index. */
static PyObject *py_sample_labels(PyObject *self, PyObject *args) {
    int threads;
    unsigned long long labels_addr, coords_addr, out_addr;
    long long n, h, w, p, ignore_index;
    if (!PyArg_ParseTuple(args, "KKKLLLLLi", &labels_addr, &coords_addr, &out_addr, &n, &h, &w,
                          &p, &ignore_index, &threads))
        return NULL;
    if (!check_sizes(MODE_NEAREST, n, 1, h, w, p, threads)) return NULL;
    const int64_t *labels = (const int64_t *)(uintptr_t)labels_addr;
    const float *coords = (const float *)(uintptr_t)coords_addr;
    int64_t *out = (int64_t *)(uintptr_t)out_addr;
    int64_t points = n * p;
    Py_BEGIN_ALLOW_THREADS
#pragma omp parallel for num_threads(threads_for(points * 16, threads)) schedule(guided)
    for (int64_t q = 0; q < points; ++q) {
        int32_t offset;
        float weight;
        nearest_tap(pixel_position(coords[2 * q], w), pixel_position(coords[2 * q + 1], h), h, w,
                    &offset, &weight);
        out[q] = weight > 0.0f ? labels[(q / p) * h * w + offset] : ignore_index;
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"forward", py_forward, METH_VARARGS, "Sample features [N,C,H,W] at coords [N,P,2] into out [N,C,P]."},
    {"backward", py_backward, METH_VARARGS, "Gradient of forward with respect to the features."},
    {"sample_labels", py_sample_labels, METH_VARARGS, "Nearest sampling of int64 labels [N,H,W]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "CPU point sampling kernels (see point_sample.c).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddIntConstant(m, "BILINEAR", MODE_BILINEAR) < 0 ||
        PyModule_AddIntConstant(m, "NEAREST", MODE_NEAREST) < 0 ||
        PyModule_AddIntConstant(m, "OPENMP", POINTREND_HAS_OPENMP) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
