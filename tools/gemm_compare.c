/* gemm_compare.c - the model's matrix products on four libraries, in one paired run.
 *
 *   gemm_compare TRACE.csv [--rounds R] [--min-ms T] [--markdown]
 *
 * TRACE.csv holds the products of one training step, one batch-256 forecast and one
 * single-window forecast per attention kind, as `attncast bench --threads 1 --trace-gemm FILE`
 * writes them (columns kind, phase, trans_a, trans_b, M, N, K, lda, ldb, ldc, beta; a preset
 * column first when tools/gemm_compare.sh joins two presets). Every distinct product is timed on
 * each library, the libraries taking turns round after round (each keeps its best round), and
 * each phase's time is the sum over its products. Libraries:
 *   openblas  cblas_sgemm of the OpenBLAS attncast links;
 *   own       attncast's own kernels (ac_gemm_own, include/attncast/gemm.h);
 *   blis      cblas_sgemm of BLIS (libblis.so.4, loaded with dlopen so that both BLAS coexist);
 *   libxsmm   its JIT kernels (libxsmm_smmdispatch), built once per product before timing. They
 *             take no transposed first operand in column-major terms, so where the row-major
 *             product has op(B) = B^T (a linear's x W^T), B is transposed into a buffer first,
 *             inside the timing, as a caller of libxsmm would have to.
 * Each library's result is checked against the own kernels' (within float32 round-off) before
 * timing; a library that cannot run a product (libxsmm without a kernel, BLIS not installed)
 * shows "-" and its totals count only when complete.
 * Everything runs on one thread.
 */
#define _GNU_SOURCE /* RTLD_DEEPBIND */
#include <dlfcn.h>
#include <libxsmm.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "attncast/gemm.h"
#include "attncast/threads.h"

enum { LIB_OPENBLAS, LIB_OWN, LIB_BLIS, LIB_XSMM, LIB_COUNT };
static const char *const LIB_NAMES[LIB_COUNT] = {"openblas", "own", "blis", "libxsmm"};

typedef void (*cblas_sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, int,
                               int, int, float, const float *, int, const float *, int, float,
                               float *, int);
static cblas_sgemm_fn blis_sgemm;

typedef struct geometry {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float beta;
} geometry;

typedef struct product {
    geometry g;
    float *A, *B, *C, *Bt; /* Bt: B transposed, for libxsmm */
    libxsmm_smmfunction xsmm;
    double seconds[LIB_COUNT]; /* best per call; < 0: cannot run */
} product;

typedef struct use {
    char preset[32], kind[16], phase[16];
    int product; /* index into products */
} use;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *random_block(size_t n, unsigned *seed) {
    float *x = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64);
    if (!x) {
        fprintf(stderr, "gemm_compare: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        x[i] = (float)(*seed >> 8) / 16777216.0f - 0.5f;
    }
    return x;
}

static void run(int lib, product *p, float *C) {
    const geometry *g = &p->g;
    enum CBLAS_TRANSPOSE ta = g->ta ? CblasTrans : CblasNoTrans,
                         tb = g->tb ? CblasTrans : CblasNoTrans;
    switch (lib) {
    case LIB_OPENBLAS:
        cblas_sgemm(CblasRowMajor, ta, tb, g->M, g->N, g->K, 1.0f, p->A, g->lda, p->B, g->ldb,
                    g->beta, C, g->ldc);
        break;
    case LIB_OWN:
        ac_gemm_own(g->ta, g->tb, g->M, g->N, g->K, p->A, g->lda, p->B, g->ldb, g->beta, C, g->ldc);
        break;
    case LIB_BLIS:
        blis_sgemm(CblasRowMajor, ta, tb, g->M, g->N, g->K, 1.0f, p->A, g->lda, p->B, g->ldb,
                   g->beta, C, g->ldc);
        break;
    case LIB_XSMM: {
        /* row-major C = op(A) op(B) is column-major C' = op(B)' op(A)': the kernel's first
         * operand is B's storage, its second A's */
        const float *first = p->B;
        if (g->tb) { /* B stored [N][K]: make it [K][N] */
            for (int n = 0; n < g->N; n++)
                for (int k = 0; k < g->K; k++)
                    p->Bt[(size_t)k * g->N + n] = p->B[(size_t)n * g->ldb + k];
            first = p->Bt;
        }
        p->xsmm(first, p->A, C);
        break;
    }
    default:
        break;
    }
}

static void prepare_xsmm(product *p) {
    const geometry *g = &p->g;
    float alpha = 1.0f, beta = g->beta;
    int flags = g->ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0;
    libxsmm_blasint lda = g->tb ? g->N : g->ldb, ldb = g->lda, ldc = g->ldc;
    p->xsmm =
        (beta == 0.0f || beta == 1.0f)
            ? libxsmm_smmdispatch(g->N, g->M, g->K, &lda, &ldb, &ldc, &alpha, &beta, &flags, NULL)
            : NULL;
}

/* Largest |x - ref| over C's M x N elements, against the scale of the product. */
static double worst_error(const geometry *g, const float *x, const float *ref) {
    double worst = 0;
    for (int i = 0; i < g->M; i++)
        for (int j = 0; j < g->N; j++) {
            double d =
                fabs((double)x[(size_t)i * g->ldc + j] - (double)ref[(size_t)i * g->ldc + j]);
            if (d > worst) worst = d;
        }
    return worst;
}

static bool can_run(int lib, const product *p) {
    if (lib == LIB_BLIS) return blis_sgemm != NULL;
    if (lib == LIB_XSMM) return p->xsmm != NULL;
    return true;
}

static int find_or_add(product **ps, int *n, int *cap, const geometry *g) {
    for (int i = 0; i < *n; i++)
        if (!memcmp(&(*ps)[i].g, g, sizeof *g)) return i;
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *ps = realloc(*ps, (size_t)*cap * sizeof **ps);
        if (!*ps) exit(1);
    }
    memset(&(*ps)[*n], 0, sizeof **ps);
    (*ps)[*n].g = *g;
    return (*n)++;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int rounds = 5;
    double min_ms = 20.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-ms") && i + 1 < argc)
            min_ms = atof(argv[++i]);
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: gemm_compare TRACE.csv [--rounds R] [--min-ms T]\n");
            return 2;
        }
    }
    if (!path || rounds < 1 || !(min_ms > 0)) {
        fprintf(stderr, "usage: gemm_compare TRACE.csv [--rounds R] [--min-ms T]\n");
        return 2;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "gemm_compare: cannot read %s\n", path);
        return 1;
    }
    product *ps = NULL;
    use *uses = NULL;
    int np = 0, pcap = 0, nu = 0, ucap = 0;
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        use u = {.preset = "-"};
        geometry g;
        char *fields[12];
        int nf = 0;
        for (char *t = strtok(line, ",\n"); t && nf < 12; t = strtok(NULL, ",\n")) fields[nf++] = t;
        int off = nf == 12 ? 1 : 0;
        if (nf != 11 && nf != 12) {
            fprintf(stderr, "gemm_compare: %s:%d: expected 11 or 12 columns, got %d\n", path,
                    lineno, nf);
            return 1;
        }
        if (off) snprintf(u.preset, sizeof u.preset, "%s", fields[0]);
        snprintf(u.kind, sizeof u.kind, "%s", fields[off]);
        snprintf(u.phase, sizeof u.phase, "%s", fields[off + 1]);
        int *ints[] = {&g.ta, &g.tb, &g.M, &g.N, &g.K, &g.lda, &g.ldb, &g.ldc};
        for (int k = 0; k < 8; k++) *ints[k] = atoi(fields[off + 2 + k]);
        g.beta = (float)atof(fields[off + 10]);
        u.product = find_or_add(&ps, &np, &pcap, &g);
        if (nu == ucap) {
            ucap = ucap ? 2 * ucap : 256;
            uses = realloc(uses, (size_t)ucap * sizeof *uses);
            if (!uses) return 1;
        }
        uses[nu++] = u;
    }
    fclose(f);

    ac_threads_init(1, NULL); /* OpenBLAS and the own kernels on one thread (BLIS's default) */
    void *blis = dlopen("libblis.so.4", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (blis) blis_sgemm = (cblas_sgemm_fn)(uintptr_t)dlsym(blis, "cblas_sgemm");
    libxsmm_init();
    unsigned seed = 12345;
    for (int i = 0; i < np; i++) {
        product *p = &ps[i];
        const geometry *g = &p->g;
        p->A = random_block((size_t)g->lda * (g->ta ? g->K : g->M), &seed);
        p->B = random_block((size_t)g->ldb * (g->tb ? g->N : g->K), &seed);
        p->C = random_block((size_t)g->ldc * g->M, &seed);
        p->Bt = random_block((size_t)g->K * g->N, &seed);
        prepare_xsmm(p);
        /* check every library against the own kernels, from the same C */
        size_t cn = (size_t)g->ldc * g->M;
        float *ref = malloc(cn * sizeof(float)), *got = malloc(cn * sizeof(float));
        memcpy(ref, p->C, cn * sizeof(float));
        run(LIB_OWN, p, ref);
        for (int lib = 0; lib < LIB_COUNT; lib++) {
            if (!can_run(lib, p)) continue;
            memcpy(got, p->C, cn * sizeof(float));
            run(lib, p, got);
            double tol = 1e-5 * g->K + 1e-5;
            if (worst_error(g, got, ref) > tol) {
                fprintf(stderr, "gemm_compare: %s disagrees on M %d N %d K %d ta %d tb %d\n",
                        LIB_NAMES[lib], g->M, g->N, g->K, g->ta, g->tb);
                return 1;
            }
        }
        free(ref);
        free(got);
        for (int lib = 0; lib < LIB_COUNT; lib++) p->seconds[lib] = can_run(lib, p) ? 1e30 : -1;
        /* calls per timed batch: about min_ms of work at 50 GFLOP/s */
        double flops = 2.0 * g->M * g->N * g->K;
        int calls = (int)(min_ms * 1e-3 * 50e9 / (flops > 1 ? flops : 1)) + 1;
        for (int r = 0; r < rounds; r++)
            for (int lib = 0; lib < LIB_COUNT; lib++) {
                if (!can_run(lib, p)) continue;
                double t0 = now();
                for (int c = 0; c < calls; c++) run(lib, p, p->C);
                double s = (now() - t0) / calls;
                if (s < p->seconds[lib]) p->seconds[lib] = s;
            }
    }

    /* per (preset, kind, phase): the sum over its products */
    printf("| preset | kind | phase | products | MFLOP | openblas ms | own ms | blis ms | libxsmm "
           "ms | own / openblas | fastest |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < nu; i++) {
        bool first = true;
        for (int j = 0; j < i; j++)
            if (!strcmp(uses[j].preset, uses[i].preset) && !strcmp(uses[j].kind, uses[i].kind) &&
                !strcmp(uses[j].phase, uses[i].phase))
                first = false;
        if (!first) continue;
        double total[LIB_COUNT] = {0}, flops = 0;
        bool complete[LIB_COUNT] = {true, true, true, true};
        int count = 0;
        for (int j = i; j < nu; j++) {
            if (strcmp(uses[j].preset, uses[i].preset) || strcmp(uses[j].kind, uses[i].kind) ||
                strcmp(uses[j].phase, uses[i].phase))
                continue;
            const product *p = &ps[uses[j].product];
            count++;
            flops += 2.0 * p->g.M * p->g.N * p->g.K;
            for (int lib = 0; lib < LIB_COUNT; lib++) {
                if (p->seconds[lib] < 0)
                    complete[lib] = false;
                else
                    total[lib] += p->seconds[lib];
            }
        }
        printf("| %s | %s | %s | %d | %.1f |", uses[i].preset, uses[i].kind, uses[i].phase, count,
               flops * 1e-6);
        int fastest = -1;
        for (int lib = 0; lib < LIB_COUNT; lib++) {
            if (complete[lib])
                printf(" %.3f |", total[lib] * 1e3);
            else
                printf(" - |");
            if (complete[lib] && (fastest < 0 || total[lib] < total[fastest])) fastest = lib;
        }
        printf(" %.2f | %s |\n", total[LIB_OWN] / total[LIB_OPENBLAS], LIB_NAMES[fastest]);
    }
    printf("\nDistinct products (GFLOP/s, best round):\n\n");
    printf("| op(A) x op(B) | ta | tb | beta | openblas | own | blis | libxsmm |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < np; i++) {
        const product *p = &ps[i];
        double flops = 2.0 * p->g.M * p->g.N * p->g.K;
        printf("| (%dx%d)x(%dx%d) | %d | %d | %g |", p->g.M, p->g.K, p->g.K, p->g.N, p->g.ta,
               p->g.tb, (double)p->g.beta);
        for (int lib = 0; lib < LIB_COUNT; lib++) {
            if (p->seconds[lib] < 0)
                printf(" - |");
            else
                printf(" %.1f |", flops / p->seconds[lib] * 1e-9);
        }
        printf("\n");
    }
    printf("\nown kernels: %s; BLIS: %s; libxsmm %d.%d\n", ac_gemm_own_isa(),
           blis_sgemm ? "libblis.so.4" : "not installed", LIBXSMM_VERSION_MAJOR,
           LIBXSMM_VERSION_MINOR);
    libxsmm_finalize();
    return 0;
}
