/* distill.h - train small neural networks and distill big ones into them, in C.
   A single-file library in the stb style. No warranty; license at the end.

   WHAT IT IS
     Dense and convolutional networks (conv2d with stride, padding, dilation,
     groups and depthwise; max, average and global average pooling; batch
     normalization; flatten; dropout and spatial dropout; PyTorch's parameter
     layouts) with SIMD kernels (SSE2 / AVX2+FMA / AVX-512 chosen at run
     time on x86, NEON on ARM), the losses and optimizers of everyday training
     (cross-entropy, MSE, SGD with momentum / Nesterov / weight decay, Adam,
     AdamW, step and cosine schedules, gradient clipping), and knowledge
     distillation (Hinton et al. 2015): a small student learns from a large
     teacher's softened outputs with the temperature-scaled KL loss, the
     teacher being another distill.h model, a cached array of logits, or a
     callback into any other code, or an ensemble of them; unlabelled
     samples (a transfer set) learn from the teacher's soft targets alone,
     seeded augmentation (shifts, flips, mixup, noise) shows teacher and
     student the same views, and attention transfer and FitNets hints add
     what the teacher's layers look at and hold. Your data in: CSV tables (our
     own bounded reader), .npy arrays, folders of images (through
     stb_image) and IDX (MNIST-format) files; stratified validation splits
     and keep-best training; an input normalisation that is stored in the
     model. And a weight file (architecture, named tensors, metadata,
     CRC32s, little-endian everywhere; atomic saves, loading in place from
     memory, checkpoints that resume training bit for bit). On one core by
     default; on every core when asked (a built-in pool or your own job
     system), with the same bits for any thread count. And int8 models
     for shipping: post-training quantization (dst_model_quantize) to int8
     weights and uint8 activations that run on integer SIMD kernels
     (AVX-512 VNNI, AVX2, SSE2, NEON), saved in the same weight file.

   QUICK START
     Define DISTILL_IMPLEMENTATION in exactly one C or C++ file before the
     include; everywhere else just #include "distill.h". Link with -lm
     (and -pthread where the C library keeps threads apart, e.g. glibc
     before 2.34, unless DST_NO_THREADS is set). This
     program trains a teacher and distills a smaller student from it
     (tests/compile/run.sh cuts it out of this comment, builds and runs it):

         #define DISTILL_IMPLEMENTATION
         #include "distill.h"
         #include <stdio.h>

         int main(void)
         {
             static float x[2000 * 2];                   // your data: 2000 samples of 2 floats
             static int y[2000];                         // and their classes, 0 to 2
             dst_layer_desc big[] = { dst_dense(64), dst_relu(), dst_dense(64), dst_relu(), dst_dense(3) };
             dst_layer_desc small[] = { dst_dense(16), dst_relu(), dst_dense(3) };
             dst_model_desc desc = dst_model_desc_default();
             dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
             dst_fit_config fit = dst_fit_default();     // batch 128, no teacher
             dst_model *teacher, *student;
             dst_teacher t;
             dst_rng rng;
             float acc;
             int i;

             dst_rng_seed(&rng, 1);                      // made-up data: three rings in the plane
             for (i = 0; i < 2000; ++i) {
                 float a = 2 * dst_rng_uniform(&rng) - 1, b = 2 * dst_rng_uniform(&rng) - 1, r = a * a + b * b;
                 x[2 * i] = a;
                 x[2 * i + 1] = b;
                 y[i] = r < 0.16f ? 0 : r < 0.56f ? 1 : 2;
             }
             opt.lr = 0.01f;
             fit.epochs = 50;
             desc.input_c = 2;                           // the teacher: trained on the labels
             desc.layers = big;
             desc.layer_count = 5;
             if (dst_model_create(&teacher, &desc, NULL) != DST_OK) return 1;
             dst_model_set_optimizer(teacher, &opt);
             if (dst_model_fit(teacher, x, y, 2000, &fit) != DST_OK) return 1;

             desc.layers = small;                        // the student: distilled from the teacher
             desc.layer_count = 3;
             if (dst_model_create(&student, &desc, NULL) != DST_OK) return 1;
             dst_model_set_optimizer(student, &opt);
             t = dst_teacher_model(teacher);
             fit.teacher = &t;
             fit.temperature = 4;                        // how soft the teacher's outputs are
             fit.alpha = 0.9f;                           // weight of the soft term against the labels
             if (dst_model_fit(student, x, y, 2000, &fit) != DST_OK) {
                 printf("%s\n", dst_model_error(student));
                 return 1;
             }
             dst_model_evaluate(student, x, y, 2000, 0, NULL, &acc);
             printf("student accuracy %.3f\n", (double)acc);
             if (dst_model_save(student, "student.dst", NULL) != DST_OK) return 1;
             dst_model_free(student);
             dst_model_free(teacher);
             return 0;
         }

     Functions that can fail return a dst_result; dst_result_string() names
     it and dst_model_error() (or the dst_error the call was given) says what
     exactly went wrong. A kernel on plain arrays given bad arguments does
     nothing and says so by its return type: DST_ERR_ARG, NaN for a float
     (a loss), nothing for void (dst_sgemm) - see "API: kernels".
     Same seed, same model: training gives the same bits on one SIMD level
     however the header is compiled (compiler, -std, -march, -ffp-contract);
     docs/API.md says what that covers.

   CONFIGURATION
     Set before the include that has DISTILL_IMPLEMENTATION:
     DST_MALLOC(sz,ctx) DST_REALLOC(p,sz,ctx) DST_FREE(p,ctx)
                          your allocator (all three or none); ctx is the
                          alloc_user pointer of the model (dst_model_desc,
                          or dst_load_options when loading), or NULL
     DST_ASSERT(x)        your assert, for the library's own invariants only
     DST_NO_SIMD          plain C kernels only
     DST_NO_THREADS       no built-in pool, no thread API of the system
                          (dst_pool_start says DST_ERR_UNSUPPORTED; a
                          parallel-for hook of yours still works)
     DST_POOL_SPIN        pause instructions a pool thread spins for the
                          next job before it sleeps (default 16384; 0: sleep
                          at once, for programs that need the cores back)
     Set the same way before EVERY include (they change declarations):
     DISTILL_STATIC       make every function static (private to one file;
                          under cl.exe this turns C4505 off for that file)
     DST_NO_STDIO         no function that opens files (buffers still work)
     DST_INFERENCE_ONLY   a build for a deployed program: no training or
                          distillation (fit, steps, teachers, backward
                          passes), no optimizers (their configuration stays),
                          no checkpoints, no data loaders (IDX, CSV, .npy,
                          data sets, image folders); models, loading from a
                          file or memory, predict, evaluate, int8 models,
                          normalisation and single images stay. With
                          -ffunction-sections -fdata-sections
                          -Wl,--gc-sections the program keeps only what it
                          calls (sizes: docs/BENCHMARKS.md, "int8 models")
     DST_MAX_LAYERS       most layers a file may claim (default 4096)
     DST_MAX_ACTIVATION_FLOATS  most activation floats per sample a model
                          may need, all layers together (default 2^26)
     DST_MAX_META         most metadata entries (default 4096)
     Include stb_image.h (with its implementation somewhere in the program)
     before distill.h to read .gz data sets and images through it.

   CONTENTS
     The API follows, then the implementation in the same order; each
     section of the implementation opens with a banner ending in a tag to
     search for:
       >>simd      platform, CPU detection, one vector vocabulary per ISA
       >>errors    results, errors, small helpers
       >>threads   work on threads: blocks, the built-in pool
       >>gemm      the packed, blocked matrix multiply
       >>loss      softmax, the distillation loss, MSE, attention transfer, hints
       >>act       activations
       >>conv      convolution: paths, row loops, im2col, direct, GEMM
       >>winograd  Winograd F(2x2, 3x3)
       >>pool      max, average and global pooling
       >>batchnorm batch normalization
       >>int8      int8 kernels: integer dot products, (de)quantizing, pooling
       >>rng       random numbers
       >>opt       optimizers
       >>kernels   the kernel table of each SIMD level
       >>model     the model and layer structures
       >>layers    the layer kinds, one section each, and their table
       >>run       a model's forward, backward, predict, evaluate
       >>quantize  int8 models: calibration, integer weights
       >>train     training and distillation
       >>file      the weight file (with its CRC32)
       >>data      IDX / MNIST data, gzip
       >>dataset   data sets of your own: subsets, stratified splits, normalisation
       >>csv       the CSV table reader
       >>npy       .npy arrays (and tables made of them)
       >>image     images through stb_image, folders of images

   DOCUMENTATION
     docs/API.md every public function; docs/DISTILLATION.md the method and
     measured results; docs/BENCHMARKS.md speed against OpenBLAS and PyTorch;
     docs/FORMAT.md the weight file byte by byte; docs/PLATFORMS.md the
     compilers and targets the tests cover.

   VERSION HISTORY
     0.1.0  first release: dense networks, KD loss, SGD/Adam/AdamW, IDX data
*/

#ifndef DISTILL_H
#define DISTILL_H

/* dst_seconds is POSIX's clock_gettime, which a strict ISO C build
   (-std=c99) hides unless a feature macro asks for it before the first
   system header. The file that defines DISTILL_IMPLEMENTATION asks here, in
   a strict build only (a gnu99 build sees it already), for POSIX.1b: the
   smallest set that has it. A system header included before this one has
   fixed the set already; dst_seconds then declares the function itself on
   Linux (see there). */
#if defined(DISTILL_IMPLEMENTATION) && defined(__STRICT_ANSI__) && !defined(_WIN32) && \
    !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE) && !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _POSIX_C_SOURCE 199309L
#endif

#include <stddef.h>
#include <stdint.h>

#define DISTILL_VERSION_MAJOR 0
#define DISTILL_VERSION_MINOR 1
#define DISTILL_VERSION_PATCH 0
#define DST__VERSION_STR(x) #x
#define DST__VERSION_XSTR(x) DST__VERSION_STR(x)
#define DISTILL_VERSION_STRING /* "0.1.0", made from the three numbers above */ \
    DST__VERSION_XSTR(DISTILL_VERSION_MAJOR) "." DST__VERSION_XSTR(DISTILL_VERSION_MINOR) "." \
    DST__VERSION_XSTR(DISTILL_VERSION_PATCH)

#ifdef DISTILL_STATIC
/* Private to the file that includes the implementation: a program that calls
   only some functions must still build clean under -Wall -Werror (or /W4).
   GCC and Clang (clang-cl too) take an attribute. cl.exe has none, and its
   C4505 ("unreferenced function with internal linkage has been removed",
   /W4) is issued at the end of the translation unit, where a push / pop
   around this header no longer holds: so it is turned off for the rest of
   the file, the one warning setting of this header that outlives it, only
   in a DISTILL_STATIC file compiled by cl.exe (docs/PLATFORMS.md, MSVC). */
#if defined(__GNUC__) || defined(__clang__)
#define DSTDEF static __attribute__((unused))
#else
#if defined(_MSC_VER)
#pragma warning(disable : 4505)
#endif
#define DSTDEF static
#endif
#else
#ifdef __cplusplus
#define DSTDEF extern "C"
#else
#define DSTDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== API: version and results ============================================ */

DSTDEF const char *dst_version(void); /* DISTILL_VERSION_STRING, "0.1.0" */

/* Seconds of monotonic wall time from an arbitrary origin: subtract two
   readings. The clock fit's progress reports use, for timing your own code. */
DSTDEF double dst_seconds(void);

/* One list gives the codes and their words, so they never drift apart.
   Values are only ever appended. */
#define DST_RESULT_LIST(X)                                                      \
    X(DST_OK, 0, "success")                                                     \
    X(DST_ERR_NOMEM, -1, "out of memory")                                       \
    X(DST_ERR_ARG, -2, "invalid argument")                                      \
    X(DST_ERR_IO, -3, "input/output error")                                     \
    X(DST_ERR_FORMAT, -4, "malformed data")                                     \
    X(DST_ERR_NONFINITE, -5, "non-finite value (NaN or infinity)")              \
    X(DST_ERR_UNSUPPORTED, -6, "not supported by this build or CPU")

typedef enum dst_result {
#define DST__RESULT_ENUM(name, value, words) name = value,
    DST_RESULT_LIST(DST__RESULT_ENUM)
#undef DST__RESULT_ENUM
    DST__RESULT_END = -1000
} dst_result;

DSTDEF const char *dst_result_string(dst_result r);

/* One list gives the layer kinds: the enum value (stored in the weight file,
   so values are only ever appended, 0, 1, 2, ... with no gap), and the name
   that dst_layer_name, the weight file's readers and the distill command
   use. The name is a bare token, only ever stringized or pasted. */
#define DST_LAYER_KIND_LIST(X)                                                  \
    X(DST_LAYER_DENSE, 0, dense)       /* y = x W^T + b; W [units][inputs], nn.Linear */ \
    X(DST_LAYER_RELU, 1, relu)                                                  \
    X(DST_LAYER_LEAKY_RELU, 2, leaky_relu)                                      \
    X(DST_LAYER_SIGMOID, 3, sigmoid)                                            \
    X(DST_LAYER_TANH, 4, tanh)                                                  \
    X(DST_LAYER_GELU, 5, gelu)                                                  \
    X(DST_LAYER_SOFTMAX, 6, softmax)   /* probabilities; for inference: the losses take logits */ \
    X(DST_LAYER_DROPOUT, 7, dropout)   /* inverted: zero with probability rate, scale by 1/(1-rate) */ \
    X(DST_LAYER_CONV2D, 8, conv2d)     /* nn.Conv2d: W [units][in_c / groups][kernel_h][kernel_w] */ \
    X(DST_LAYER_MAXPOOL2D, 9, maxpool2d) /* nn.MaxPool2d */                     \
    X(DST_LAYER_AVGPOOL2D, 10, avgpool2d) /* nn.AvgPool2d, padding counted in the mean */ \
    X(DST_LAYER_GLOBAL_AVGPOOL, 11, global_avgpool) /* mean over H x W: C x H x W -> C x 1 x 1 */ \
    X(DST_LAYER_BATCHNORM, 12, batchnorm) /* nn.BatchNorm2d over channels (BatchNorm1d after dense) */ \
    X(DST_LAYER_FLATTEN, 13, flatten)  /* C x H x W -> C*H*W x 1 x 1, data untouched, not copied */ \
    X(DST_LAYER_DROPOUT2D, 14, dropout2d) /* nn.Dropout2d: zeroes whole channels with probability rate */

/* Where a call that has no object of its own puts the detail of a failure.
   Pass NULL when you do not want it. */
typedef struct dst_error {
    dst_result code;
    char message[256];
} dst_error;

/* ==== API: SIMD selection ================================================= */

/* On x86 the fastest path the CPU has is chosen at first use (no -march
   needed). Forcing a path is for tests and comparisons; it is process-wide. */
typedef enum dst_simd {
    DST_SIMD_AUTO = 0,
    DST_SIMD_SCALAR,
    DST_SIMD_SSE2,
    DST_SIMD_AVX2,
    DST_SIMD_AVX512,
    DST_SIMD_NEON
} dst_simd;

DSTDEF dst_result  dst_simd_force(dst_simd level); /* AUTO = best available; DST_ERR_UNSUPPORTED if absent, DST_ERR_ARG if not a dst_simd */
DSTDEF dst_simd    dst_simd_active(void);          /* the path in use now */
DSTDEF const char *dst_simd_name(dst_simd level);  /* "scalar", "sse2", "avx2", "avx512", "neon", "auto" */

/* ==== API: threads (opt-in) =============================================== */

/* The library computes on the calling thread and creates no thread unless
   it is given a dst_threads: a parallel-for that runs fn(ctx, 0) ..
   fn(ctx, tasks - 1), each exactly once, on any threads, in any order,
   and returns when every one has returned. width is the most tasks it can
   run at once (>= 1); the library asks for at most width tasks a call.
   Bring your own (a game's job system, OpenMP, Grand Central Dispatch):

     static void omp_for(void *user, int tasks, dst_task_fn fn, void *ctx)
     {   int i; (void)user;
         #pragma omp parallel for
         for (i = 0; i < tasks; ++i) fn(ctx, i);
     }
     dst_threads t = { omp_for, NULL, omp_get_max_threads() };

   or start the built-in pool (POSIX threads; Win32 threads on Windows).
   Results do not depend on the threads: work is cut into blocks by the
   shapes alone (a GEMM's rows also where no cut can change a sum), and
   every sum is added in a fixed order, so 1, 2 or 64 threads (or none)
   give the same bits.
   Small work (a batch-1 prediction, a small layer) stays on the calling
   thread. DST_NO_THREADS leaves the pool out (a hook still works). */
typedef void (*dst_task_fn)(void *ctx, int task);
typedef void (*dst_parallel_for_fn)(void *user, int tasks, dst_task_fn fn, void *ctx);
typedef struct dst_threads {
    dst_parallel_for_fn parallel_for;
    void *user;   /* passed to parallel_for */
    int   width;  /* the most tasks it runs at once, >= 1 */
} dst_threads;

typedef struct dst_pool dst_pool;
/* Starts a pool of threads in all, the calling thread included (threads - 1
   are created); 0 = one per core (dst_cpu_count). 1 creates no thread.
   DST_ERR_NOMEM (nothing leaked) when a thread or its memory cannot be
   had; DST_ERR_UNSUPPORTED under DST_NO_THREADS. */
DSTDEF dst_result  dst_pool_start(dst_pool **out, int threads);
DSTDEF void        dst_pool_stop(dst_pool *pool);              /* joins its threads; NULL is fine */
DSTDEF int         dst_pool_size(const dst_pool *pool);        /* threads in all, 1 for NULL */
/* The pool as a dst_threads. One call runs at a time: calls from several
   threads into one pool take turns (give each user thread its own pool to
   run them side by side). */
DSTDEF dst_threads dst_pool_threads(dst_pool *pool);
DSTDEF int         dst_cpu_count(void);                        /* logical cores, >= 1 */

/* dst_sgemm on threads (NULL: the calling thread): the same arguments and
   the same bits as dst_sgemm, for any thread count. */
DSTDEF void dst_sgemm_threaded(const dst_threads *threads, int trans_a, int trans_b, int m, int n, int k,
                               float alpha, const float *a, int lda, const float *b, int ldb,
                               float beta, float *c, int ldc);

/* ==== API: kernels on plain float arrays ================================== */

/* Bad arguments, one rule for every kernel here: a call whose arguments
   cannot work (NULL where data is needed, a size out of range, an unknown
   enum value, a parameter outside its domain) does nothing. It writes no
   output, changes no array, and says so through its return type: a
   dst_result is DST_ERR_ARG; a float (a loss, a norm) is NaN, as C's math
   functions answer a domain error; a void kernel (dst_sgemm keeps
   cblas_sgemm's shape) cannot say it, so check what you do not control
   first (the valid ranges are written beside each; dst_conv2d_check and
   dst_pool2d_check test a shape). NULL with a count of 0 is not an error. */

/* C = alpha * op(A) * op(B) + beta * C, row-major, like cblas_sgemm(CblasRowMajor, ...).
   op(A) is m x k, op(B) is k x n. trans_a / trans_b: 0 = as stored, 1 = transposed.
   When beta == 0, C is written without being read (it may hold NaNs or garbage).
   lda, ldb, ldc: floats between rows as stored (lda >= k, or m when trans_a; ldb >= n,
   or k when trans_b; ldc >= n). alpha == 0 or k == 0: C = beta * C, A and B not read.
   Invalid arguments (negative sizes, NULL, a leading dimension too small): nothing done.
   Safe to call from several threads at once (packing buffers belong to the call). */
DSTDEF void  dst_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
                       const float *a, int lda, const float *b, int ldb,
                       float beta, float *c, int ldc);

/* Row-wise softmax of logits / temperature; rows x cols; probs may equal logits (in place).
   Does nothing when an argument is invalid (NULL, rows or cols < 1, temperature <= 0 or NaN). */
DSTDEF void  dst_softmax(const float *logits, float *probs, int rows, int cols, float temperature);

/* Distillation loss, mean over rows:
     alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(labels, softmax(s))
   i.e. PyTorch's  alpha*T*T*kl_div(log_softmax(s/T,1), softmax(t/T,1), reduction='batchmean')
                 + (1-alpha)*cross_entropy(s, labels).
   labels == NULL: the soft term alone, T^2 * KL (alpha ignored).
   teacher_logits == NULL: plain cross-entropy on labels (alpha ignored).
   Unlabelled rows (a transfer set): with teacher logits, a label of
   DST_NO_LABEL gives that row the soft term alone at weight 1, while the
   labelled rows keep alpha and 1 - alpha; the sum over rows is divided by
   rows. Every row weighs the same whatever it carries, so a batch of
   unlabelled rows gives exactly the loss of labels == NULL, a batch of
   labelled rows exactly the formula above, and a mixed batch the mean of
   the two kinds of row (not the hard term's mean over the labelled rows
   alone, which would give a batch's one labelled row the weight of all).
   grad, when not NULL, receives d loss / d student_logits (rows x cols).
   Numerically stable for logits of any magnitude (e.g. +-1e4) and T from 0.1 to 100.
   Invalid arguments (NULL student, both teacher and labels NULL, rows/cols < 1,
   T <= 0, alpha outside [0,1], a label outside [0,cols) other than
   DST_NO_LABEL with teacher logits) return NaN and leave grad alone. */
#define DST_NO_LABEL (-1) /* the label of a sample that has none: the soft term alone */
DSTDEF float dst_kd_loss(const float *student_logits, const float *teacher_logits, const int *labels,
                         int rows, int cols, float temperature, float alpha, float *grad);

/* dst_kd_loss on mixup's rows (Zhang et al. 2018): row i is the mix
   lambda[i] x_a + (1 - lambda[i]) x_b of two samples, and its hard term is
   mixed alike, lambda[i] CE(labels[i]) + (1 - lambda[i]) CE(labels_b[i]):
   cross-entropy against lambda onehot(a) + (1 - lambda) onehot(b), whose
   gradient is softmax(s) minus that target. The soft term is dst_kd_loss's
   (the teacher's logits are those of the mixed row). A row labelled
   DST_NO_LABEL has the soft term alone (labels_b[i] is not read). With
   every lambda 1 it gives dst_kd_loss's bits. NaN, grad untouched, for
   dst_kd_loss's invalid arguments, labels, labels_b or lambda NULL, a
   lambda outside [0, 1], or a labels_b[i] outside [0, cols) on a labelled row. */
DSTDEF float dst_kd_loss_mixup(const float *student_logits, const float *teacher_logits, const int *labels,
                               const int *labels_b, const float *lambda, int rows, int cols,
                               float temperature, float alpha, float *grad);

/* Mean squared error over n values: mean((pred - target)^2), like PyTorch's
   mse_loss(reduction='mean'); grad (may be NULL) gets 2 (pred - target) / n.
   Returns NaN for NULL pointers or n == 0. */
DSTDEF float dst_mse_loss(const float *pred, const float *target, size_t n, float *grad);

/* Attention transfer (Zagoruyko & Komodakis 2017) between a student's and a
   teacher's feature maps, batch x channels x h x w each (NCHW): per sample
   the map Q = sum over channels of a^2, average-pooled k x k when its side
   is k times the other's (k >= 1, the same k for h and w), q = Q / ||Q||_2
   (PyTorch's F.normalize, eps 1e-12); the loss is weight * the mean of
   (q_s - q_t)^2 over batch x positions, PyTorch's
   weight * (at(s) - at(t)).pow(2).mean() with at(x) =
   F.normalize(F.avg_pool2d(x.pow(2).sum(1, keepdim=True), k).flatten(1)).
   grad_s (may be NULL) gets d loss / d s ADDED to it (batch x s_c x s_h x s_w).
   NaN, grad_s untouched, for NULL maps, sizes < 1, sides not in one integer
   ratio, or a weight that is not finite and >= 0. */
DSTDEF float dst_attention_loss(const float *s, int s_c, int s_h, int s_w, const float *t, int t_c, int t_h,
                                int t_w, int batch, float weight, float *grad_s);

/* The FitNets hint loss (Romero et al. 2015) between a student's and a
   teacher's layer outputs, batch x channels x h x w each (NCHW; flat
   features are channels x 1 x 1): the student's output, average-pooled
   k x k when its side is k times the teacher's, goes through an adapter
   (a 1x1 convolution, for flat features a dense layer) from s_c to t_c
   channels, and the loss is weight * the mean of (adapter(s) - t)^2 over
   batch x t_c x positions, the teacher's output average-pooled likewise when
   its side is the larger: PyTorch's weight * F.mse_loss(conv1x1(
   F.avg_pool2d(s, k_s)), F.avg_pool2d(t, k_t)) (pooling before or after the
   adapter gives the same values: both are linear). adapter holds the weight
   (t_c x s_c, PyTorch's layout) then the bias (t_c). grad_s (batch x s_c x
   s_h x s_w) and grad_adapter (t_c x (s_c + 1)), either may be NULL, get
   d loss / d s and d loss / d adapter ADDED to them. NaN, gradients
   untouched, for NULL inputs, sizes < 1, sides not in one integer ratio or
   a weight that is not finite and >= 0. */
DSTDEF float dst_hint_loss(const float *s, int s_c, int s_h, int s_w, const float *t, int t_c, int t_h, int t_w,
                           int batch, const float *adapter, float weight, float *grad_s, float *grad_adapter);

/* Element-wise activations, as PyTorch defines them (GELU is the exact erf form).
   param is the negative slope of leaky ReLU (PyTorch's default 0.01), unused otherwise. */
typedef enum dst_activation {
    DST_ACT_RELU,
    DST_ACT_LEAKY_RELU,
    DST_ACT_SIGMOID,
    DST_ACT_TANH,
    DST_ACT_GELU
} dst_activation;

/* y = f(x) over n values; y may equal x. An unknown act does nothing. */
DSTDEF void dst_activation_forward(dst_activation act, float param, const float *x, float *y, size_t n);
/* dx = dy * f'(x); x is the forward input, y its output (some derivatives use
   one, some the other: pass both). dx may equal dy. */
DSTDEF void dst_activation_backward(dst_activation act, float param, const float *x, const float *y,
                                    const float *dy, float *dx, size_t n);

/* ---- convolution, pooling and batch normalization on NCHW arrays ---------
   Activations are NCHW float32, batch samples one after another. Weights are
   in PyTorch's layouts. Each function checks its arguments and returns
   DST_ERR_ARG (doing nothing) when they cannot work. */

/* A 2-D convolution, PyTorch's nn.Conv2d(in_c, out_c, (kernel_h, kernel_w),
   (stride_h, stride_w), (pad_h, pad_w), (dilation_h, dilation_w), groups). */
typedef struct dst_conv2d_params {
    int in_c, in_h, in_w;       /* one sample's input */
    int out_c;                  /* output channels, a multiple of groups */
    int kernel_h, kernel_w;     /* >= 1 */
    int stride_h, stride_w;     /* >= 1 */
    int pad_h, pad_w;           /* >= 0: zeros on both sides */
    int dilation_h, dilation_w; /* >= 1 */
    int groups;                 /* >= 1, divides in_c and out_c; == in_c: depthwise */
} dst_conv2d_params;

/* Square kernel, stride and padding; dilation 1, groups 1. */
DSTDEF dst_conv2d_params dst_conv2d_params_make(int in_c, int in_h, int in_w, int out_c,
                                                int kernel, int stride, int pad);
/* DST_OK and the output size, or DST_ERR_ARG saying what is wrong
   (out_h / out_w / err may be NULL). */
DSTDEF dst_result dst_conv2d_check(const dst_conv2d_params *p, int *out_h, int *out_w, dst_error *err);
/* Floats of scratch dst_conv2d_forward / _backward need (the column matrix
   of one sample and group, or more for a 3x3 convolution the forward does
   by Winograd's method); 0 for 1x1 stride-1 unpadded and depthwise
   convolutions, which need none (work may then be NULL). */
DSTDEF size_t dst_conv2d_work_floats(const dst_conv2d_params *p);

/* im2col for one sample and `channels` consecutive input channels starting
   at x: col is [channels * kernel_h * kernel_w][out_h * out_w], row
   (c, i, j) holding x[c][oh * stride_h - pad_h + i * dilation_h][ow * stride_w - pad_w + j * dilation_w]
   (0 in the padding). col2im is its transpose: it ADDS col back into x.
   Bad arguments (p failing dst_conv2d_check, channels outside [1, in_c],
   NULL): nothing done. */
DSTDEF void dst_im2col(const dst_conv2d_params *p, int channels, const float *x, float *col);
DSTDEF void dst_col2im(const dst_conv2d_params *p, int channels, const float *col, float *x);

/* y (batch x out_c x out_h x out_w) = conv(x, w) + bias. w is
   [out_c][in_c / groups][kernel_h][kernel_w]; bias [out_c] or NULL. */
DSTDEF dst_result dst_conv2d_forward(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                     const float *bias, float *y, float *work);
/* From dy (the shape of y): dx (shape of x), dw (shape of w) and db [out_c],
   each written, not accumulated, summed over the batch; any of the three
   may be NULL when not wanted. x and w are the forward's. */
DSTDEF dst_result dst_conv2d_backward(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, float *db, float *work);

/* Max and average pooling windows, PyTorch's nn.MaxPool2d / nn.AvgPool2d
   (ceil_mode False; average pooling counts the padding, count_include_pad
   True). */
typedef struct dst_pool2d_params {
    int channels, in_h, in_w;   /* one sample's input */
    int kernel_h, kernel_w;     /* >= 1 */
    int stride_h, stride_w;     /* 0 = the kernel size */
    int pad_h, pad_w;           /* 0 <= pad <= kernel / 2 (PyTorch's rule) */
} dst_pool2d_params;

DSTDEF dst_result dst_pool2d_check(const dst_pool2d_params *p, int *out_h, int *out_w, dst_error *err);
/* argmax (may be NULL; batch x channels x out_h x out_w) gets the index
   h * in_w + w of each maximum within its input plane, for the backward. */
DSTDEF dst_result dst_maxpool2d_forward(const dst_pool2d_params *p, int batch, const float *x, float *y,
                                        int32_t *argmax);
/* dx (written) from dy and the forward's argmax. */
DSTDEF dst_result dst_maxpool2d_backward(const dst_pool2d_params *p, int batch, const int32_t *argmax,
                                         const float *dy, float *dx);
DSTDEF dst_result dst_avgpool2d_forward(const dst_pool2d_params *p, int batch, const float *x, float *y);
DSTDEF dst_result dst_avgpool2d_backward(const dst_pool2d_params *p, int batch, const float *dy, float *dx);

/* Batch normalization over channels, PyTorch's nn.BatchNorm2d (and
   BatchNorm1d with spatial = 1). Training normalises with the batch's mean
   and biased variance, stores mean and 1/sqrt(var + eps) per channel in
   save_mean / save_invstd (for the backward), and when running_mean /
   running_var are not NULL moves them towards the batch's mean and UNBIASED
   variance: r = (1 - momentum) r + momentum v. It needs batch * spatial >= 2.
   Inference normalises with running_mean / running_var. gamma / beta (the
   affine weight and bias, [channels]) may be NULL: 1 and 0. */
typedef struct dst_batchnorm_params {
    int   channels;
    int   spatial;  /* values per channel per sample: H * W */
    float eps;      /* PyTorch: 1e-5 */
    float momentum; /* PyTorch: 0.1 */
} dst_batchnorm_params;

DSTDEF dst_result dst_batchnorm_forward(const dst_batchnorm_params *p, int batch, int training, const float *x,
                                        const float *gamma, const float *beta, float *running_mean,
                                        float *running_var, float *y, float *save_mean, float *save_invstd);
/* Backward of a training forward: dx, dgamma, dbeta [channels] (written;
   any may be NULL). x, gamma, save_mean, save_invstd are the forward's. */
DSTDEF dst_result dst_batchnorm_backward(const dst_batchnorm_params *p, int batch, const float *x,
                                         const float *gamma, const float *save_mean, const float *save_invstd,
                                         const float *dy, float *dx, float *dgamma, float *dbeta);

/* ==== API: random numbers ================================================= */

/* A small seeded generator (splitmix64). Same seed, same sequence on every
   host. Everything random in the library (initialisation, dropout, shuffling)
   draws from a generator you can see and seed: there is no global one. */
typedef struct dst_rng {
    uint64_t state;
} dst_rng;

DSTDEF void     dst_rng_seed(dst_rng *rng, uint64_t seed);
DSTDEF uint64_t dst_rng_next(dst_rng *rng);                  /* 64 random bits */
DSTDEF float    dst_rng_uniform(dst_rng *rng);               /* [0, 1) */
DSTDEF float    dst_rng_normal(dst_rng *rng);                /* mean 0, deviation 1 */
DSTDEF size_t   dst_rng_below(dst_rng *rng, size_t bound);   /* [0, bound), bound >= 1 */

/* ==== API: optimizers over flat arrays ==================================== */

typedef enum dst_optimizer_kind {
    DST_SGD,   /* with optional momentum, dampening, Nesterov, L2 weight decay */
    DST_ADAM,  /* weight_decay is L2 added to the gradient (PyTorch's Adam) */
    DST_ADAMW  /* weight_decay is decoupled (PyTorch's AdamW) */
} dst_optimizer_kind;

/* Hyperparameters with PyTorch's meaning. Get one from dst_optimizer_default():
   zero is a real value for most of these, so a zeroed struct is not a default. */
typedef struct dst_optimizer_config {
    dst_optimizer_kind kind;
    float lr;           /* learning rate */
    float momentum;     /* SGD: 0 = plain SGD */
    float dampening;    /* SGD */
    int   nesterov;     /* SGD: 1 = Nesterov momentum (needs momentum > 0, dampening 0) */
    float beta1, beta2; /* Adam, AdamW */
    float eps;          /* Adam, AdamW */
    float weight_decay;
    float clip_norm;    /* > 0: scale gradients so their global L2 norm is at most this */
} dst_optimizer_config;

/* PyTorch's defaults: SGD lr 0.01; Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8;
   AdamW the same with weight_decay 0.01. No clipping. */
DSTDEF dst_optimizer_config dst_optimizer_default(dst_optimizer_kind kind);
DSTDEF dst_result dst_optimizer_check(const dst_optimizer_config *cfg, dst_error *err);

/* How many float arrays of n values of state the optimizer needs beside the
   parameters (0, 1 or 2). */
DSTDEF int dst_optimizer_state_count(const dst_optimizer_config *cfg);

#ifndef DST_INFERENCE_ONLY /* the optimizers themselves */
/* One update of n parameters: step is the 1-based number of this update (Adam's
   bias correction; SGD's momentum buffer starts as the first gradient), lr the
   learning rate for it (a schedule may differ from cfg->lr). state0 / state1
   are the optimizer's arrays (momentum; Adam's first and second moments),
   zeroed before the first step; pass NULL for ones the optimizer does not use.
   cfg->clip_norm is not applied here (see dst_clip_grad_norm). Bad
   arguments (NULL cfg, an unknown kind, NULL param or grad, NULL for a
   state the optimizer uses): nothing done. */
DSTDEF void dst_optimizer_update(const dst_optimizer_config *cfg, float lr, long step,
                                 float *param, const float *grad, float *state0, float *state1, size_t n);

/* Scales grad in place so its L2 norm is at most max_norm (PyTorch's
   clip_grad_norm_; 0 zeroes it); returns the norm before clipping. NaN,
   grad untouched, for NULL grad or max_norm < 0 or NaN. */
DSTDEF float dst_clip_grad_norm(float *grad, size_t n, float max_norm);

#endif /* DST_INFERENCE_ONLY */
/* Learning-rate schedules, evaluated per epoch by dst_model_fit. */
typedef enum dst_lr_kind {
    DST_LR_CONSTANT, /* lr */
    DST_LR_STEP,     /* lr * gamma^(floor(t / step_size)), PyTorch's StepLR */
    DST_LR_COSINE    /* min_lr + (lr - min_lr) (1 + cos(pi t / total)) / 2, CosineAnnealingLR */
} dst_lr_kind;

typedef struct dst_lr_schedule {
    dst_lr_kind kind;
    long  step_size; /* STEP */
    float gamma;     /* STEP */
    long  total;     /* COSINE: t at which lr reaches min_lr (PyTorch's T_max) */
    float min_lr;    /* COSINE */
    long  warmup;    /* > 0: lr (t + 1) / (warmup + 1) for t < warmup, then the schedule
                        from its t = 0 (PyTorch's LinearLR(start_factor = 1 / (warmup + 1),
                        total_iters = warmup) and SequentialLR) */
} dst_lr_schedule;

#ifndef DST_INFERENCE_ONLY /* schedules */
DSTDEF float dst_lr_at(const dst_lr_schedule *s, float base_lr, long t); /* t >= 0 */
#endif /* DST_INFERENCE_ONLY */

/* ==== API: models ========================================================= */

/* The layer kinds: DST_LAYER_KIND_LIST (beside the result codes) gives the
   values, which the weight file stores, and the names. */
typedef enum dst_layer_kind {
#define DST__LAYER_KIND_ENUM(kind, value, name) kind = value,
    DST_LAYER_KIND_LIST(DST__LAYER_KIND_ENUM)
#undef DST__LAYER_KIND_ENUM
} dst_layer_kind;

/* How many kinds there are: every value below it is a kind. */
enum {
#define DST__LAYER_KIND_ONE(kind, value, name) + 1
    DST_LAYER_KIND_COUNT = 0 DST_LAYER_KIND_LIST(DST__LAYER_KIND_ONE)
#undef DST__LAYER_KIND_ONE
};

typedef enum dst_init {
    DST_INIT_DEFAULT = 0,   /* PyTorch's nn.Linear and nn.Conv2d: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    DST_INIT_HE_UNIFORM,    /* kaiming_uniform_(relu): U(-sqrt(6/fan_in), +), bias 0 */
    DST_INIT_HE_NORMAL,     /* kaiming_normal_(relu): N(0, 2/fan_in), bias 0 */
    DST_INIT_XAVIER_UNIFORM,/* U(-sqrt(6/(fan_in+fan_out)), +), bias 0 */
    DST_INIT_XAVIER_NORMAL  /* N(0, 2/(fan_in+fan_out)), bias 0 */
} dst_init;

/* One layer of a sequential model. Make them with the functions below, then
   set any other field you need (e.g. L.kernel_w = 5 for a 3x5 kernel). fan_in
   of a convolution is in_c / groups * kernel_h * kernel_w. */
typedef struct dst_layer_desc {
    dst_layer_kind kind;
    int      units;   /* DENSE: output features; CONV2D: output channels */
    int      no_bias; /* DENSE, CONV2D: 1 = no bias */
    dst_init init;    /* DENSE, CONV2D */
    float    param;   /* LEAKY_RELU: negative slope; DROPOUT, DROPOUT2D: rate in [0, 1);
                         BATCHNORM: momentum of the running statistics (PyTorch 0.1) */
    int      kernel_h, kernel_w;     /* CONV2D, MAXPOOL2D, AVGPOOL2D: >= 1 */
    int      stride_h, stride_w;     /* CONV2D: >= 1; pools: 0 = the kernel size */
    int      pad_h, pad_w;           /* CONV2D, pools: zero padding on each side */
    int      dilation_h, dilation_w; /* CONV2D: >= 1 */
    int      groups;                 /* CONV2D: >= 1, divides input and output channels */
    float    eps;                    /* BATCHNORM: added to the variance (PyTorch 1e-5) */
} dst_layer_desc;

DSTDEF const char    *dst_layer_name(dst_layer_kind kind); /* "dense", "relu", ... */
DSTDEF dst_layer_desc dst_dense(int units);
DSTDEF dst_layer_desc dst_relu(void);
DSTDEF dst_layer_desc dst_leaky_relu(float negative_slope);
DSTDEF dst_layer_desc dst_sigmoid(void);
DSTDEF dst_layer_desc dst_tanh(void);
DSTDEF dst_layer_desc dst_gelu(void);
DSTDEF dst_layer_desc dst_softmax_layer(void);
DSTDEF dst_layer_desc dst_dropout(float rate);
/* Square kernel, stride, padding; dilation 1, groups 1, with bias. */
DSTDEF dst_layer_desc dst_conv2d(int out_channels, int kernel, int stride, int padding);
/* groups = channels = the input channels: one filter per channel. */
DSTDEF dst_layer_desc dst_depthwise_conv2d(int channels, int kernel, int stride, int padding);
DSTDEF dst_layer_desc dst_maxpool2d(int kernel, int stride, int padding); /* stride 0 = kernel */
DSTDEF dst_layer_desc dst_avgpool2d(int kernel, int stride, int padding); /* stride 0 = kernel */
DSTDEF dst_layer_desc dst_global_avgpool(void);
/* eps 1e-5, momentum 0.1; weight 1, bias 0; running mean 0, variance 1. */
DSTDEF dst_layer_desc dst_batchnorm(void);
DSTDEF dst_layer_desc dst_flatten(void);
DSTDEF dst_layer_desc dst_dropout2d(float rate);

typedef struct dst_model_desc {
    int input_c, input_h, input_w;   /* one sample's shape; h and w 0 or 1 for a vector */
    const dst_layer_desc *layers;
    int layer_count;
    uint64_t seed;                   /* initialisation and dropout: same seed, same model */
    void *alloc_user;                /* passed as ctx to DST_MALLOC / DST_FREE */
} dst_model_desc;

DSTDEF dst_model_desc dst_model_desc_default(void); /* all zero, seed 1 */

typedef struct dst_model dst_model;

/* Builds the model: checks every layer against the shape it receives,
   allocates parameters (one 64-byte-aligned block) and initialises them. */
DSTDEF dst_result dst_model_create(dst_model **out, const dst_model_desc *desc, dst_error *err);
DSTDEF void       dst_model_free(dst_model *m);
DSTDEF const char *dst_model_error(const dst_model *m); /* the last failure's detail, "" if none */

DSTDEF size_t dst_model_input_size(const dst_model *m);  /* floats per sample in */
DSTDEF size_t dst_model_output_size(const dst_model *m); /* floats per sample out (classes) */
DSTDEF int    dst_model_layer_count(const dst_model *m);

typedef struct dst_layer_info {
    dst_layer_desc desc;
    int    in_c, in_h, in_w, out_c, out_h, out_w;
    size_t param_offset;  /* into dst_model_params(): weights first, then bias */
    size_t weight_count, bias_count;
    size_t buffer_offset; /* into dst_model_buffers(): BATCHNORM's running mean, then variance */
    size_t buffer_count;  /* 2 x channels for BATCHNORM, else 0 */
    int    int8;          /* 1: an int8 model's layer with int8 weights and int32 bias (dst_model_quantize) */
} dst_layer_info;

DSTDEF dst_result dst_model_layer(const dst_model *m, int index, dst_layer_info *info);

/* All parameters in one array (layer by layer: weight, then bias, in PyTorch's
   layouts), and the gradients laid out the same way. For a model loaded in
   place (dst_model_parse) the parameters are the caller's buffer: read
   them only; dst_model_grads copies them first (see the weight file). */
DSTDEF size_t dst_model_param_count(const dst_model *m);
DSTDEF float *dst_model_params(dst_model *m);
DSTDEF float *dst_model_grads(dst_model *m);

/* State that is not trained: batch normalization's running mean and
   variance (PyTorch's buffers), layer by layer, [C] mean then [C] variance.
   Read and set them here (e.g. to load a state_dict). */
DSTDEF size_t dst_model_buffer_count(const dst_model *m);
DSTDEF float *dst_model_buffers(dst_model *m);

/* Reserves the workspace for batches of up to max_batch samples now, so that
   no later call allocates. Calls with a bigger batch grow it on demand. */
DSTDEF dst_result dst_model_reserve(dst_model *m, int max_batch);
/* Computes on threads (see dst_threads; NULL: the calling thread only, the
   default): dense and conv layers, activations, pooling, batch norm, the
   gradients' finiteness check and the optimizer's update, so training,
   predict, evaluate and (given to a teacher model) the teacher's forward.
   The model keeps a copy of *threads and makes scratch for each of its
   width (a GEMM packing buffer of about 0.5 MB and the largest conv
   layer's im2col columns); parameters come out bit for bit the same
   whatever the threads. Not while another call on this model runs. */
DSTDEF dst_result dst_model_set_threads(dst_model *m, const dst_threads *threads);

/* Forward pass of batch samples (NCHW floats). training = 1 applies dropout,
   normalises with batch statistics (updating the running ones) and keeps
   what backward needs. *out (may be NULL) points at the model's output
   (batch x output_size), valid until the next call on the model. */
DSTDEF dst_result dst_model_forward(dst_model *m, const float *x, int batch, int training, const float **out);

#ifndef DST_INFERENCE_ONLY /* backward */
/* Back-propagates d loss / d output (batch x output_size, the batch of the last
   training forward) and writes (does not accumulate) the parameter gradients.
   x of that forward must still be valid. */
DSTDEF dst_result dst_model_backward(dst_model *m, const float *d_output);

#endif /* DST_INFERENCE_ONLY */
/* Inference: count samples in batches of the workspace's size; out gets
   count x output_size floats. */
DSTDEF dst_result dst_model_predict(dst_model *m, const float *x, size_t count, float *out);

/* Mean cross-entropy and accuracy of count labelled samples, in batches of
   batch (0 = 256). Either output pointer may be NULL. */
DSTDEF dst_result dst_model_evaluate(dst_model *m, const float *x, const int *labels, size_t count,
                                     int batch, float *loss, float *accuracy);

/* An inference copy of m with batch normalization folded away: each
   BATCHNORM layer that directly follows a CONV2D or DENSE layer is merged,
   with its running statistics, into that layer's weights and bias,
     W' = W s,  b' = (b - running_mean) s + beta,  s = gamma / sqrt(running_var + eps)
   per output channel, and dropped (the layer gains a bias if it had none).
   Every other layer, batch norms elsewhere included, is copied as it is.
   *folded is a new model (free it with dst_model_free) whose inference
   output equals m's up to float rounding; it has fewer layers, so layer
   indices shift. m is not changed. Training the copy trains the folded
   weights (there is no batch norm left to use batch statistics). */
DSTDEF dst_result dst_model_fold_batchnorm(const dst_model *m, dst_model **folded, dst_error *err);

/* ---- int8 models ----
   Post-training quantization: dst_model_quantize turns a trained float
   model into an int8 model that computes in integers. Weights: int8,
   symmetric, one scale per output channel, in [-127, 127]. Activations:
   uint8 with one scale and zero point per tensor, real = scale (q - zero),
   their ranges calibrated on samples you give (a few hundred to a few
   thousand training samples). Biases: int32 in the scale of input x weight.
   Between layers each output channel is requantized by one float
   multiplier (docs/API.md says why not a fixed-point one). DENSE and
   CONV2D (groups and depthwise included, with a fused ReLU), RELU, the
   pools, FLATTEN and the dropouts (identity in inference) run in
   integers; any other layer runs in float between a dequantize and a
   quantize, so every model quantizes. The model's input is quantized on
   entry and its output given back in float: predict, evaluate and
   forward (training = 0) work as on any model. Training it is refused
   (DST_ERR_UNSUPPORTED): train the float model, then quantize again. */
typedef enum dst_calibration {
    DST_CALIBRATE_MINMAX = 0,    /* each tensor's range: the smallest and largest value seen */
    DST_CALIBRATE_PERCENTILE = 1, /* the range that keeps `percentile` % of the values seen */
    DST_CALIBRATE_TRAINED = 2,    /* the ranges quantization-aware training tracked
                                     (dst_model_set_quant_aware): no samples needed */
    DST_CALIBRATE_MSE = 3         /* the range whose 256 levels give the values seen the least
                                     squared error, clipping included */
} dst_calibration;

typedef struct dst_quantize_options {
    dst_calibration calibration; /* MSE by default (docs/API.md: which is better, measured) */
    float percentile;            /* PERCENTILE: in (50, 100]; default 99.99 */
    int   batch;                 /* samples per calibration forward; 0 = 256 */
} dst_quantize_options;

DSTDEF dst_quantize_options dst_quantize_default(void);

/* *out = the int8 model of m (batch norms folded first, as
   dst_model_fold_batchnorm does), its activation ranges calibrated on
   calib_count samples of calib_x (NCHW floats, as m takes them;
   calib_count >= 1; with DST_CALIBRATE_TRAINED, NULL and 0). opt NULL:
   dst_quantize_default(). m is not changed.
   Free *out with dst_model_free. dst_model_params of *out holds the
   dequantized weights (int8 value x scale) and biases. */
DSTDEF dst_result dst_model_quantize(const dst_model *m, const float *calib_x, size_t calib_count,
                                     const dst_quantize_options *opt, dst_model **out, dst_error *err);
/* 1 for an int8 model (dst_model_quantize, or one loaded from a file), else 0. */
DSTDEF int dst_model_is_quantized(const dst_model *m);

/* An int8 model's integers, layer by layer, for code that runs the model
   elsewhere and must give the same bits (`distill export-c` writes them
   out; docs/API.md gives the arithmetic they take part in). Quantized
   values mean real = scale (q - zero). The pointers are the model's own,
   valid while it lives; NULL for a layer without int8 weights. */
typedef struct dst_layer_int8 {
    float   in_scale, out_scale;    /* the layer's input's and output's quantization */
    int32_t in_zero, out_zero;
    int     in_float;               /* 1: the layer runs in float, between a dequantize and a quantize */
    int     relu_fused;             /* 1: the RELU layer after it is applied by its requantization */
    const int8_t  *weight;          /* [units][k], the float weight's layout */
    const float   *weight_scale;    /* [units]: a real weight is weight_scale x int8 */
    const int32_t *bias;            /* [units]: in in_scale x weight_scale units, minus in_zero x the row's sum */
    const float   *multiplier;      /* [units]: in_scale x weight_scale / out_scale (the requantization's) */
} dst_layer_int8;

/* Layer index's quantization. DST_ERR_ARG for a float model or a bad index. */
DSTDEF dst_result dst_model_layer_int8(const dst_model *m, int index, dst_layer_int8 *q);

/* ==== API: training and distillation ===================================== */

#ifndef DST_INFERENCE_ONLY /* training and distillation */
/* Sets the optimizer and zeroes its state and step count. */
DSTDEF dst_result dst_model_set_optimizer(dst_model *m, const dst_optimizer_config *cfg);
DSTDEF long       dst_model_step_count(const dst_model *m); /* optimizer steps taken */

/* Quantization-aware training (on = 1): from then on every forward computes
   as the int8 model of dst_model_quantize will, in float ("fake
   quantization"): the dense and convolution weights rounded to int8 per
   output channel, the input and every layer output that the int8 model
   quantizes rounded to 256 levels of its range (all but the model's
   output). The ranges are tracked in training forwards: the first batch's
   minimum and maximum, then a moving average of each batch's (weight 0.01,
   PyTorch's default). The backward is the straight-through estimator: the
   gradients computed at the rounded values go to the float weights, and
   through each rounding unchanged except where a value fell outside the
   range (clamped: no gradient). Train or distill as usual (fit, a teacher,
   train_step), then dst_model_quantize with DST_CALIBRATE_TRAINED. For a
   float student that loses too much accuracy in post-training
   quantization: fine-tune it a few epochs this way while its teacher
   distills it. on = 0 turns it off and forgets the ranges. Batch norms
   must be folded first (dst_model_fold_batchnorm): DST_ERR_UNSUPPORTED.
   Between a training forward and its backward, dst_model_params holds the
   rounded weights; the float ones are back after the backward. */
DSTDEF dst_result dst_model_set_quant_aware(dst_model *m, int on);

/* One step on a batch: forward, loss, backward, update (lr = the optimizer's
   lr, or the one a schedule set through dst_model_set_lr).
   teacher_logits NULL: cross-entropy on labels. Otherwise the KD loss of
   dst_kd_loss (labels may then be NULL: soft term only). *loss (may be NULL)
   gets the batch loss. A non-finite loss or gradient stops the step before
   the update: DST_ERR_NONFINITE, and the model is as it was (parameters,
   optimizer state, batch norm's running statistics, dropout generator). */
DSTDEF dst_result dst_model_train_step(dst_model *m, const float *x, const int *labels, int batch,
                                       const float *teacher_logits, float temperature, float alpha,
                                       float *loss);
DSTDEF dst_result dst_model_set_lr(dst_model *m, float lr);

/* One attention transfer term of dst_fit_config: layer positions and weight. */
typedef struct dst_attention_term {
    int   student_layer, teacher_layer;
    float weight;
} dst_attention_term;

/* One hint term of dst_fit_config (dst_hint_loss): layer positions, weight,
   and optionally the adapter's first values. The adapter is trained with
   the student, by the student's optimizer settings (its own state, lr and
   schedule of the model; clip_norm clips the student's gradients only), and
   freed when fit returns: it is never part of the student. */
typedef struct dst_hint_term {
    int   student_layer, teacher_layer;
    float weight;
    const float *adapter_init; /* NULL: weight and bias ~ U(-1/sqrt(s_c), 1/sqrt(s_c)), PyTorch's default,
                                  drawn from the fit's seed; else t_c x (s_c + 1) floats as in dst_hint_loss */
} dst_hint_term;

/* Where the teacher's logits come from. Make one with the functions below. */
typedef dst_result (*dst_teacher_fn)(void *user, const float *x, const size_t *indices, int batch,
                                     float *logits /* batch x classes, to fill */);
typedef struct dst_teacher {
    dst_model     *model;   /* a distill.h model, run in inference mode (see teacher_per_batch) */
    const float   *logits;  /* cached: row i holds the logits of training sample i */
    size_t         logits_rows;
    dst_teacher_fn fn;      /* a callback: anything that can produce logits */
    void          *user;
    int            classes;
    const struct dst_teacher *members; /* an ensemble: see dst_teacher_ensemble */
    const float   *weights;
    int            member_count;
    float          temperature;
} dst_teacher;

DSTDEF dst_teacher dst_teacher_model(dst_model *teacher);
DSTDEF dst_teacher dst_teacher_logits(const float *logits, size_t rows, int classes);
DSTDEF dst_teacher dst_teacher_callback(dst_teacher_fn fn, void *user, int classes);
/* Several teachers as one (an ensemble): the target of the soft term is the
   weighted mean of their tempered probabilities,
     p = sum_i w_i softmax(t_i / T) / sum_i w_i,
   with members[i] a model, cached logits or a callback (not an ensemble),
   all with the same classes, and weights count values >= 0, not all 0
   (NULL: equal weights). The ensemble gives the logits T log p (computed
   as a log-sum-exp, finite for finite logits), whose softmax at T is p: so
   it goes wherever a teacher goes (fit, dst_teacher_cache, distill steps),
   but only with this temperature T, the fit's (fit refuses another). An
   ensemble of one gives its member's logits unchanged (the same bits as
   that teacher alone, at any T; its T is not used). The arrays must outlive the ensemble's
   use; a batch allocates one batch x classes buffer. */
DSTDEF dst_teacher dst_teacher_ensemble(const dst_teacher *members, const float *weights, int count,
                                        float temperature);

/* Runs a teacher over count samples (in batches of 256) and stores the logits:
   compute them once, distill from the cache every epoch. out: count x classes. */
DSTDEF dst_result dst_teacher_cache(const dst_teacher *t, const float *x, size_t sample_size,
                                    size_t count, float *out, dst_error *err);

/* A distillation step: gets the teacher's logits for the samples with these
   indices (x holds them, in order) and calls dst_model_train_step. */
DSTDEF dst_result dst_model_distill_step(dst_model *m, const dst_teacher *t, const float *x,
                                         const int *labels, const size_t *indices, int batch,
                                         float temperature, float alpha, float *loss);

typedef struct dst_progress {
    int    epoch, epochs;       /* 0-based epoch now, total */
    size_t batch, batches;      /* batches done in this epoch, total */
    float  loss;                /* mean training loss of the epoch so far */
    float  accuracy;            /* training accuracy of the epoch so far (on labels) */
    float  lr;
    double seconds;             /* since fit started */
    double samples_per_second;
    int    epoch_done;          /* 1 on the call at the end of an epoch */
    float  val_loss, val_accuracy; /* at epoch end when validation data was given, else -1 */
    int    best_epoch;          /* keep_best: the 0-based epoch of the best validation so far, else -1 */
} dst_progress;

/* Return non-zero to stop training (dst_model_fit then returns DST_OK). */
typedef int (*dst_progress_fn)(void *user, const dst_progress *p);

/* A batch source: fills x (batch x the model's input size floats) and labels
   (batch class numbers) with the samples of these indices, each in [0,
   count) of the fit; reads them from disk, decodes, augments, as it likes.
   Anything but DST_OK stops the fit with that result. */
typedef dst_result (*dst_batch_fn)(void *user, const size_t *indices, int batch, float *x, int *labels);

/* Augmentation in fit: each training batch is changed at random before the
   step, and a live teacher (a model or a callback) is given that same
   changed batch (the "consistent teacher" of Beyer et al. 2022), so with
   augmentation on the teacher runs on every batch; cached teacher logits
   (dst_teacher_logits, or an ensemble member of them) are refused, being
   the logits of samples the student no longer sees. The draws come from
   their own generator, seeded from the fit's seed, the epoch and the
   sample's place in the stream (mixup's pairs: the batch's number), never
   from the model's threads: a seed gives the same batches for any thread
   count, and a resumed fit the same as an uninterrupted one. In order:
     shift        pad with zeros and crop: the image moves by dy, dx, each
                  drawn uniformly in [-shift, shift] pixels (0: off)
     flip         1: mirror left-right with probability 1/2 (off by default:
                  wrong for digits and text)
     noise        > 0: add N(0, noise^2) to every input value (for tables:
                  features normalised to unit deviation, noise ~ 0.05 - 0.3)
     mixup_alpha  > 0: mixup (Zhang et al. 2018): each sample k is mixed with
                  a partner p(k) of the same batch (a random permutation),
                  lambda x_k + (1 - lambda) x_p(k), lambda drawn per sample
                  from Beta(a, a) and folded into [0.5, 1] (the law of the
                  pair is the same, and sample k stays its larger part, so
                  its label is the one accuracy counts). The hard term is
                  lambda CE(y_k) + (1 - lambda) CE(y_p(k)) (dst_kd_loss_mixup).
                  A mix with an unlabelled sample (DST_NO_LABEL) is
                  unlabelled: the soft term alone, on the teacher's logits for
                  the mixed input, which are the right target for it; a
                  label covering part of the mix would be no target at all.
   shift and flip need an image (the input's height > 1). */
typedef struct dst_augment {
    int   shift;        /* pixels, >= 0 */
    int   flip;         /* 0 or 1 */
    float mixup_alpha;  /* >= 0; 0: no mixup */
    float noise;        /* >= 0; the deviation */
} dst_augment;

typedef struct dst_fit_config {
    int      epochs;
    int      batch_size;
    uint64_t seed;               /* shuffling order */
    int      no_shuffle;
    const dst_teacher *teacher;  /* NULL: train on labels; else distill */
    float    temperature, alpha; /* distillation, see dst_kd_loss */
    dst_lr_schedule schedule;    /* per epoch, applied to the optimizer's lr */
    const float *val_x;          /* optional validation set, evaluated each epoch */
    const int   *val_labels;
    size_t       val_count;
    dst_progress_fn progress;    /* optional; called every progress_every batches and at epoch ends */
    void        *progress_user;
    size_t       progress_every; /* 0 = only at epoch ends */
    int          resume;         /* 1: continue where the model's last fit stopped (e.g. a loaded
                                    checkpoint): same data, count, batch_size, seed and no_shuffle */
    dst_batch_fn source;         /* optional: batches come from here, not from x and labels (pass NULL
                                    for both to dst_model_fit): data that does not fit in memory */
    void        *source_user;
    int          keep_best;      /* 1 (needs validation data): end with the parameters of the epoch of
                                    best validation accuracy (ties: lower validation loss) */
    int          patience;       /* with keep_best: stop after this many epochs without a better one
                                    (early stopping); 0 = run every epoch */
    dst_augment  augment;        /* random views of each training batch (all zero: none) */
    /* A transfer set (with a teacher only): unlabeled_count more samples that
       have no labels, shuffled into one stream with the count labelled ones.
       Stream sample i is x[i] for i < count and unlabeled_x[i - count] after;
       a teacher callback gets these stream indices and cached teacher logits
       need a row for each (count + unlabeled_count rows). Those samples get
       the soft term alone, as labels of DST_NO_LABEL do (see dst_kd_loss). */
    const float *unlabeled_x;
    size_t       unlabeled_count;
    /* A teacher model or callback runs once over the whole stream before the
       first epoch, and every epoch reads its logits from that cache
       ((count + unlabeled_count) x classes floats, freed when fit returns).
       1: run it on each batch instead (no cache, its cost every epoch);
       implied by augmentation, where the teacher must see the student's batch. */
    int          teacher_per_batch;
    /* Attention transfer terms (dst_attention_loss), added to the loss: each
       compares the output of the student's layer student_layer with the
       teacher's layer teacher_layer (0-based positions in the layer lists;
       a layer followed by an activation done in place, such as a ReLU after
       a convolution, gives that activation's output). Needs a teacher
       model, run on every batch (teacher_per_batch is implied). */
    const dst_attention_term *attention;
    int          attention_count;
    /* Hint terms (dst_hint_loss), added to the loss like the attention
       terms, with the same layer positions and the same teacher model. A
       resumed fit starts its adapters afresh (checkpoints do not hold them). */
    const dst_hint_term *hint;
    int          hint_count;
} dst_fit_config;

/* 10 epochs, batch 128, shuffled with seed 1, T = 4, alpha = 0.9, constant lr. */
DSTDEF dst_fit_config dst_fit_default(void);

/* Trains on count samples x (count x input_size) with labels. With a teacher,
   labels may be NULL (soft targets alone) or hold DST_NO_LABEL for some
   samples, and cfg->unlabeled_x may add a transfer set. With cfg->source, x
   and labels are NULL and each batch is asked of the source (whose labels may
   be DST_NO_LABEL too). The loss and the progress's mean loss count every
   sample; its accuracy the labelled ones. */
DSTDEF dst_result dst_model_fit(dst_model *m, const float *x, const int *labels, size_t count,
                                const dst_fit_config *cfg);

#endif /* DST_INFERENCE_ONLY */
/* ==== API: weight file ==================================================== */

/* One file holds a model: its architecture (every field of every layer),
   its parameters and batch norm statistics as named float32 tensors (the
   names of a PyTorch nn.Sequential's state_dict: "0.weight", "3.running_var"),
   key/value metadata and CRC32s; little-endian with fixed-width fields on
   every host. docs/FORMAT.md gives it byte by byte. A checkpoint is the same
   file plus the optimizer's state and dst_model_fit's position. */
#define DST_FILE_VERSION_MAJOR 1 /* a reader refuses a newer major version */
#define DST_FILE_VERSION_MINOR 1 /* and reads a newer minor one (it only adds); 1.1: int8 models */

/* Limits a file may claim, checked before anything is allocated. */
#ifndef DST_MAX_LAYERS
#define DST_MAX_LAYERS 4096
#endif
#ifndef DST_MAX_ACTIVATION_FLOATS /* per sample: all layers' outputs and scratch together */
#define DST_MAX_ACTIVATION_FLOATS ((size_t)1 << 26)
#endif
#ifndef DST_MAX_META
#define DST_MAX_META 4096 /* metadata entries */
#endif

/* Metadata: key/value pairs attached to a model, saved and loaded with it
   (class names, input normalisation, temperature, accuracy, ...). Keys are 1
   to 255 bytes; setting a key again replaces its value (and its type). */
DSTDEF dst_result  dst_model_meta_set_string(dst_model *m, const char *key, const char *value);
DSTDEF dst_result  dst_model_meta_set_number(dst_model *m, const char *key, double value);
DSTDEF const char *dst_model_meta_string(const dst_model *m, const char *key);            /* NULL if absent or not a string */
DSTDEF int         dst_model_meta_number(const dst_model *m, const char *key, double *value); /* 1 if found as a number */
DSTDEF int         dst_model_meta_count(const dst_model *m);
DSTDEF const char *dst_model_meta_key(const dst_model *m, int index); /* in the order first set; NULL outside [0, count) */

/* One verb per way the bytes travel: _save / _load take a path; _write
   hands the bytes to you (through a dst_write_fn, or as one block with
   _memory), _parse reads them from your memory. */

/* Receives the file in pieces, in order; returns 0 on success, anything
   else stops the save with DST_ERR_IO. */
typedef int (*dst_write_fn)(void *user, const void *data, size_t len);

#ifndef DST_NO_STDIO
/* Atomic: writes "<path>.tmp" beside the target, flushes it (fsync where
   available), then renames it over path. On any failure the previous file
   at path is untouched and the temporary file is removed. */
DSTDEF dst_result dst_model_save(const dst_model *m, const char *path, dst_error *err);
#endif
DSTDEF dst_result dst_model_write(const dst_model *m, dst_write_fn write, void *user, dst_error *err);
/* *buf (free it with dst_free) gets the whole file. */
DSTDEF dst_result dst_model_write_memory(const dst_model *m, unsigned char **buf, size_t *len, dst_error *err);

/* Loading rebuilds the model: architecture, parameters, batch norm running
   statistics and metadata. Any defect of the file (truncated, corrupt, wrong
   magic, absurd sizes, ...) is DST_ERR_FORMAT with a message that says what
   and at which byte; a newer major version is DST_ERR_UNSUPPORTED. */
#ifndef DST_NO_STDIO
DSTDEF dst_result dst_model_load(dst_model **out, const char *path, dst_error *err);
#endif
/* From memory, the parameters and running statistics are used in place, not
   copied, when the buffer allows it: a little-endian host, the file's data
   laid out as distill.h writes it, and buf 64-byte aligned (malloc is not
   enough; with `xxd -i` add __attribute__((aligned(64))) or copy it into an
   aligned block). buf must then outlive the model and stay unchanged. Such
   a model is for inference: dst_model_params() points into buf (read
   only). The first training forward, dst_model_backward,
   dst_model_set_optimizer or dst_model_grads copies them into memory the
   model owns, after which buf is no longer used. Otherwise they are copied
   at load. Either way buf is only read. */
DSTDEF dst_result dst_model_parse(dst_model **out, const void *buf, size_t len, dst_error *err);
DSTDEF int        dst_model_params_in_place(const dst_model *m); /* 1 while the parameters live in a caller's buffer */

/* What a load may allocate, and through which context (cgltf_options'
   idea). Take dst_load_options_default() and change what you need; a value
   out of range is DST_ERR_ARG, never clamped. A file beyond the limits is
   DST_ERR_FORMAT, the message naming the limit. dst_model_load / _parse and
   the _checkpoint calls use the defaults. */
typedef struct dst_load_options {
    void  *alloc_user;       /* ctx of every DST_MALLOC / DST_FREE of the load and of the model
                                (its dst_model_desc.alloc_user); default NULL */
    int    max_layers;       /* 1 to DST_MAX_LAYERS (the default) */
    size_t max_param_bytes;  /* parameters and batch norm statistics the architecture may declare,
                                4 bytes a value, checked before anything is allocated; default
                                (size_t)-1: only the file's own size bounds them */
    int    in_place;         /* parse: 1 (default) uses buf in place when it can (above), 0 always
                                copies; loading from a path always copies */
    int    checkpoint;       /* 1: the file must be a checkpoint, and its training state is
                                restored (as dst_model_load_checkpoint); default 0 */
} dst_load_options;

DSTDEF dst_load_options dst_load_options_default(void);
DSTDEF dst_result dst_model_parse_with(dst_model **out, const void *buf, size_t len, const dst_load_options *opt,
                                       dst_error *err);
#ifndef DST_NO_STDIO
DSTDEF dst_result dst_model_load_with(dst_model **out, const char *path, const dst_load_options *opt, dst_error *err);
#endif

#ifndef DST_INFERENCE_ONLY /* checkpoints */
/* Checkpoints: the weight file plus the optimizer (configuration, moments,
   step count, current lr), the dropout generator and where dst_model_fit
   stands (epoch, batch, the shuffling seed, the epoch's running loss). Load
   one and call dst_model_fit with the same data and config and
   cfg.resume = 1: the parameters come out bit for bit as if training had
   never stopped. dst_model_load reads a checkpoint as a plain model;
   dst_model_load_checkpoint refuses a file without training state. */
#ifndef DST_NO_STDIO
DSTDEF dst_result dst_model_save_checkpoint(const dst_model *m, const char *path, dst_error *err);
DSTDEF dst_result dst_model_load_checkpoint(dst_model **out, const char *path, dst_error *err);
#endif
DSTDEF dst_result dst_model_write_checkpoint(const dst_model *m, dst_write_fn write, void *user, dst_error *err);
DSTDEF dst_result dst_model_write_checkpoint_memory(const dst_model *m, unsigned char **buf, size_t *len,
                                                    dst_error *err);
DSTDEF dst_result dst_model_parse_checkpoint(dst_model **out, const void *buf, size_t len, dst_error *err);

#endif /* DST_INFERENCE_ONLY */
/* CRC-32 (IEEE, as zlib and PNG compute it) of len bytes, continuing from
   crc: start with 0. The weight file's checksums. */
DSTDEF uint32_t dst_crc32(uint32_t crc, const void *buf, size_t len);

/* ==== API: data =========================================================== */

#ifndef DST_INFERENCE_ONLY /* IDX files */
/* An IDX file (the MNIST format): big-endian header, any element type,
   converted to float. */
#define DST_IDX_MAX_DIMS 4
typedef struct dst_idx {
    int    type;   /* the element type code: 0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
                      0x0C int32, 0x0D float32, 0x0E float64 */
    int    ndim;
    int    dims[DST_IDX_MAX_DIMS];
    size_t count;  /* product of dims */
    float *data;
} dst_idx;

/* Parses an IDX file held in memory (not compressed). */
DSTDEF dst_result dst_idx_parse(const void *buf, size_t len, dst_idx *out, dst_error *err);
#ifndef DST_NO_STDIO
/* Reads path; a name ending in ".gz" is gunzipped first, which needs stb_image.h
   (otherwise DST_ERR_UNSUPPORTED saying so). */
DSTDEF dst_result dst_idx_load(const char *path, dst_idx *out, dst_error *err);
#endif
DSTDEF void dst_idx_free(dst_idx *idx);

#endif /* DST_INFERENCE_ONLY */
/* Gunzips a .gz image in memory through stb_image's zlib decoder (checks the
   CRC32 and length). *out is freed with dst_free(). */
DSTDEF dst_result dst_gunzip(const void *buf, size_t len, unsigned char **out, size_t *out_len, dst_error *err);
DSTDEF void       dst_free(void *p); /* frees what a dst_ function returned to you with DST_MALLOC */

#ifndef DST_INFERENCE_ONLY /* data sets: MNIST, your own, CSV tables, splits */
/* An MNIST-style data set directory: train-images-idx3-ubyte,
   train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
   each plain or .gz. Pixels (unsigned bytes) are scaled to [0, 1]; images of
   any other element type (float features written as IDX) are left as they
   are, never divided by 255. */
typedef struct dst_mnist {
    float *train_x; int *train_y; size_t train_count;
    float *test_x;  int *test_y;  size_t test_count;
    int    rows, cols, classes;
    int    pixels; /* 1: the images were bytes, now times 1/255; 0: values as stored */
} dst_mnist;

#ifndef DST_NO_STDIO
DSTDEF dst_result dst_mnist_load(const char *dir, dst_mnist *out, dst_error *err);
#endif
DSTDEF void dst_mnist_free(dst_mnist *d);

/* Your own data: count samples of channels x height x width floats (a table
   row is 1 x 1 x features) with a class number each. The CSV reader, .npy
   tables and image folders all fill one. */
typedef struct dst_dataset {
    float  *x;            /* count x channels x height x width */
    int    *y;            /* count class numbers in [0, classes) */
    size_t  count;
    int     channels, height, width;
    int     classes;
    char  **class_names;  /* classes names in class order, or NULL when the labels were numbers */
} dst_dataset;

DSTDEF void   dst_dataset_free(dst_dataset *d);
DSTDEF size_t dst_dataset_sample_size(const dst_dataset *d); /* channels x height x width */

/* CSV tables: one sample a row, numeric features, one label column.
     - fields separated by delimiter; "quoted" fields (a doubled "" is one ");
       spaces and tabs around an unquoted field are dropped; LF or CRLF lines;
       blank lines and lines starting with # are skipped.
     - header: the first row names the columns (1), does not (0), or is
       guessed (-1, default): it is a header when a column of it is not a
       number where the next row's is, and a preamble line, skipped, when
       such a row has another number of fields than the next (the first
       line of sklearn's wine_data.csv).
     - label: the label column, a header name or a 0-based index ("4");
       NULL = the last column. Every other column is a feature.
     - labels: when every label is a whole number (0 to 65535) it is the
       class number and class_names is NULL; otherwise labels are names, and
       the classes are the distinct names sorted by byte value (strcmp), so
       the same set of names gives the same numbering in every file.
       classes / class_count: the names to number by instead (a test file
       read with the training set's names); a label not among them is an
       error.
     - refused with DST_ERR_FORMAT naming the line (from 1) and the column
       (from 0, as label counts them): an empty field (a missing value), a
       field that is not a finite number, a row with another number of fields
       than the first, a label column that does not exist, no data rows, a
       quote left open; more than DST_CSV_MAX_CLASSES names or
       DST_CSV_MAX_COLUMNS columns. */
#define DST_CSV_MAX_COLUMNS 65536
#define DST_CSV_MAX_CLASSES 4096
typedef struct dst_csv_options {
    int  header;                    /* -1 guess (default), 0 no header row, 1 a header row */
    const char *label;              /* column name or 0-based index; NULL = the last column */
    char delimiter;                 /* default ',' */
    const char *const *classes;     /* optional: the class names, in class order */
    int  class_count;
} dst_csv_options;

DSTDEF dst_csv_options dst_csv_options_default(void);
DSTDEF dst_result dst_csv_parse(const void *buf, size_t len, const dst_csv_options *opt, dst_dataset *out,
                                dst_error *err);
#ifndef DST_NO_STDIO
DSTDEF dst_result dst_csv_load(const char *path, const dst_csv_options *opt, dst_dataset *out, dst_error *err);
#endif

/* A held-out part of each class (stratified): round(fraction x the class's
   count) samples of every class, at least one of a class with two or more
   and never all of it, picked at random from seed. order (count entries)
   receives the kept samples' indices in ascending order, then the held-out
   ones' (by class, then ascending); *held how many were held out. fraction
   in [0, 1). */
DSTDEF dst_result dst_split_stratified(const int *labels, size_t count, float fraction, uint64_t seed,
                                       size_t *order, size_t *held, dst_error *err);
/* out = the n samples of src at indices idx (new memory, class names copied). */
DSTDEF dst_result dst_dataset_subset(const dst_dataset *src, const size_t *idx, size_t n, dst_dataset *out,
                                     dst_error *err);

#endif /* DST_INFERENCE_ONLY */
/* Input normalisation that travels with the model. A prepared input is
     v = (raw x scale - mean[j]) / std[j]
   with j the feature (count = the model's input size) or the channel (count
   = its input channels, the same for every pixel of a channel). scale turns
   pixel bytes into [0, 1] (1/255) and is 1 for tables; the library's image
   loaders and dst_mnist_load apply it, so their samples are already scaled.
   Stored in the model's metadata (input.scale, input.mean, input.std;
   docs/FORMAT.md) and saved with it; dst_model_normalize applies mean and
   std to scaled samples, dst_image_prep_from_model all three to pictures,
   and `distill export-c` emits them into NAME_predict. */
DSTDEF dst_result dst_model_set_normalization(dst_model *m, float scale, const float *mean, const float *std,
                                              int count);
/* The model's normalisation: returns count (0 when it has none: scale 1,
   mean 0, std 1), writing up to cap values into mean and std (may be NULL). */
DSTDEF int dst_model_normalization(const dst_model *m, float *scale, float *mean, float *std, int cap);
/* samples x the model's input size floats, in place: (v - mean) / std. */
DSTDEF dst_result dst_model_normalize(dst_model *m, float *x, size_t samples);
#ifndef DST_INFERENCE_ONLY /* normalisation statistics, .npy arrays */
/* The mean and standard deviation (population; a constant one gets std 1) of
   each of count groups over samples of sample_size floats: count =
   sample_size per feature, or a divisor of it per channel (contiguous
   planes, NCHW). */
DSTDEF dst_result dst_normalization_stats(const float *x, size_t samples, size_t sample_size, int count,
                                          float *mean, float *std, dst_error *err);

/* .npy arrays (NumPy's format, versions 1 to 3): float32 or int32, C order,
   either byte order on disk; the data comes back in the host's order. Teacher
   logits saved by any framework with numpy.save drive offline distillation:
       dst_npy a; dst_teacher t;
       dst_npy_load("teacher_logits.npy", &a, &e);      -- rows x classes float32
       dst_teacher_from_npy(&a, &t, &e);                 -- or dst_teacher_logits(a.data, ...)
       fit.teacher = &t; dst_model_fit(...); dst_npy_free(&a);   -- a must outlive the fit */
#define DST_NPY_MAX_DIMS 8
typedef enum dst_npy_dtype { DST_NPY_FLOAT32 = 1, DST_NPY_INT32 = 2 } dst_npy_dtype;
typedef struct dst_npy {
    dst_npy_dtype dtype;
    int    ndim;                      /* 0 (a scalar) to DST_NPY_MAX_DIMS */
    size_t shape[DST_NPY_MAX_DIMS];
    size_t count;                     /* product of shape (1 for a scalar) */
    void  *data;                      /* count float or int32_t, 64-byte aligned */
} dst_npy;

/* DST_ERR_FORMAT for a broken file, DST_ERR_UNSUPPORTED for another dtype
   (the message names it) or Fortran order. */
DSTDEF dst_result dst_npy_parse(const void *buf, size_t len, dst_npy *out, dst_error *err);
#ifndef DST_NO_STDIO
DSTDEF dst_result dst_npy_load(const char *path, dst_npy *out, dst_error *err);
/* Atomic, as dst_model_save: "<path>.tmp" renamed over path. */
DSTDEF dst_result dst_npy_save(const char *path, dst_npy_dtype dtype, const void *data, int ndim,
                               const size_t *shape, dst_error *err);
#endif
/* The same file through a write callback (see dst_write_fn). */
DSTDEF dst_result dst_npy_write(dst_write_fn write, void *user, dst_npy_dtype dtype, const void *data, int ndim,
                                const size_t *shape, dst_error *err);
DSTDEF void dst_npy_free(dst_npy *a);
/* A teacher of cached logits from a 2-D float32 array (rows x classes); it
   points at a->data, which must outlive the teacher. */
DSTDEF dst_result dst_teacher_from_npy(const dst_npy *a, dst_teacher *out, dst_error *err);
/* A table from two arrays: features float32 (N x F, or N x C x H x W) and
   labels int32 (N), class numbers >= 0 (classes = the largest + 1). */
DSTDEF dst_result dst_dataset_from_npy(const dst_npy *features, const dst_npy *labels, dst_dataset *out,
                                       dst_error *err);

#endif /* DST_INFERENCE_ONLY */
/* ==== API: images ========================================================= */

/* How a picture becomes a model's input: resized to height x width (area
   averaging when shrinking, bilinear when enlarging), converted to the
   channel count (RGB to gray is the luminance 0.299 R + 0.587 G + 0.114 B;
   gray to RGB repeats it; alpha is composited over white), each byte times
   scale, then 1 - v when invert is set, then (v - mean[c]) / std[c]. */
typedef struct dst_image_prep {
    int   channels, height, width; /* the model's input: 1 (gray) or 3 (RGB) channels */
    int   invert;                  /* 1: v = 1 - v after scaling (dark on light <-> light on dark) */
    float scale;                   /* 1 / 255: bytes to [0, 1] */
    float mean[3], std[3];         /* per channel; 0 and 1 leave the values alone */
} dst_image_prep;

/* scale 1/255, no inversion, mean 0, std 1. */
DSTDEF dst_image_prep dst_image_prep_default(int channels, int height, int width);

/* Resamples one plane of floats: src sh x sw to dst dh x dw (each >= 1).
   work holds sh x dw floats. */
DSTDEF void dst_image_resize(const float *src, int sh, int sw, float *dst, int dh, int dw, float *work);

/* Interleaved 8-bit pixels (comp 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA),
   width x height, to channels x height x width floats in out as prep says. */
DSTDEF dst_result dst_image_to_input(const unsigned char *pixels, int width, int height, int comp,
                                     const dst_image_prep *prep, float *out, dst_error *err);

#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(DST_NO_STDIO)
/* Reads a PNG, JPEG, BMP, ... through stb_image (include stb_image.h before
   distill.h) and converts it with dst_image_to_input. */
DSTDEF dst_result dst_image_load(const char *path, const dst_image_prep *prep, float *out, dst_error *err);

#ifndef DST_INFERENCE_ONLY /* folders of images */
/* A folder of pictures sorted by class, torchvision's ImageFolder layout:
   dir/<class name>/<files>.png|jpg|jpeg|bmp|gif|tga (other files are skipped).
   Classes are the subfolders' names sorted by byte value, or the given
   names in their order (classes / class_count, e.g. the training set's when
   loading its test folder; a subfolder not among them is an error, a name
   with no folder an empty class). Files are read in sorted order, each
   converted by prep (channels 1 or 3, scale, mean, std); height and width 0
   take the first picture's size, and then a picture of another size is an
   error naming it. No picture at all, a picture stb_image cannot read: an
   error naming the file. */
DSTDEF dst_result dst_image_folder_load(const char *dir, const dst_image_prep *prep, const char *const *classes,
                                        int class_count, dst_dataset *out, dst_error *err);

/* The same folder streamed from disk, for data that does not fit in memory:
   open lists the files (and sizes the pictures) without decoding them;
   dst_image_folder_batch is a dst_batch_fn that decodes the pictures asked
   for, to give dst_fit_config.source (source_user = the folder):
       dst_image_folder *f;  dst_image_folder_open(&f, "photos/train", &prep, NULL, 0, &e);
       fit.source = dst_image_folder_batch; fit.source_user = f;
       dst_model_fit(m, NULL, NULL, dst_image_folder_info(f)->count, &fit);
   info: count, shape, classes, class_names and y (every picture's class,
   e.g. for dst_split_stratified); x is NULL. When the batch function fails,
   dst_image_folder_error says which picture and why. */
typedef struct dst_image_folder dst_image_folder;
DSTDEF dst_result dst_image_folder_open(dst_image_folder **out, const char *dir, const dst_image_prep *prep,
                                        const char *const *classes, int class_count, dst_error *err);
DSTDEF const dst_dataset *dst_image_folder_info(const dst_image_folder *f);
DSTDEF dst_result dst_image_folder_batch(void *folder, const size_t *indices, int batch, float *x, int *labels);
DSTDEF const char *dst_image_folder_error(const dst_image_folder *f);
DSTDEF void dst_image_folder_close(dst_image_folder *f);
#endif /* DST_INFERENCE_ONLY */
#endif
/* The model's input shape and its normalisation as an image prep. */
DSTDEF dst_image_prep dst_image_prep_from_model(const dst_model *m);

#ifdef __cplusplus
}
#endif
#endif /* DISTILL_H */

/* ========================================================================== */
/* ==== IMPLEMENTATION ====================================================== */
/* ========================================================================== */

#ifdef DISTILL_IMPLEMENTATION
#ifndef DISTILL_IMPLEMENTATION_DONE
#define DISTILL_IMPLEMENTATION_DONE

#include <math.h>
#include <string.h>
#include <stdarg.h>
#include <stdio.h>
#include <float.h>
#include <limits.h>

/* Floating-point contraction (a*b+c fused into one FMA) is decided here, not by
   the user's flags: off for all library code, so one seed trains the same bits
   whether the header is built with -std=c99 or gnu99, gcc or clang, with or
   without -march=native (docs/API.md, "Same seed, same model"). Kernels that
   want an FMA call it explicitly through intrinsics. The setting ends with
   the implementation, so the user's code after the include keeps its own:
   GCC pushes and pops its options; Clang takes the standard pragma, whose
   DEFAULT at the end is the command line's setting again (Clang 14 knows
   `#pragma float_control(push)` on x86, PowerPC and SystemZ only, and warns
   about it on AArch64, ARM and RISC-V). Clang ignores both pragmas under
   -ffp-contract=fast. MSVC does not contract under its default
   /fp:precise (Visual Studio 2022). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

/* DST_INFERENCE_ONLY: a table entry of training (a layer's backward, an
   optimizer's kernel) is NULL, its function left out */
#ifdef DST_INFERENCE_ONLY
#define DST__TRAIN(fn) NULL
#else
#define DST__TRAIN(fn) fn
#endif

#if defined(DST_MALLOC) && defined(DST_REALLOC) && defined(DST_FREE)
/* the user's allocator */
#elif !defined(DST_MALLOC) && !defined(DST_REALLOC) && !defined(DST_FREE)
#include <stdlib.h>
#define DST_MALLOC(sz, ctx) ((void)(ctx), malloc(sz))
#define DST_REALLOC(p, sz, ctx) ((void)(ctx), realloc((p), (sz)))
#define DST_FREE(p, ctx) ((void)(ctx), free(p))
#else
#error "distill.h: define all of DST_MALLOC, DST_REALLOC and DST_FREE, or none"
#endif

#ifndef DST_ASSERT
#include <assert.h>
#define DST_ASSERT(x) assert(x)
#endif

#if !defined(DST_NO_THREADS) && !defined(_WIN32)
#include <pthread.h>
#include <unistd.h>
#endif
#if defined(_WIN32)
#include <windows.h>
#elif defined(__APPLE__)
#include <mach/mach_time.h>
#else
#include <time.h>
#endif
#if !defined(DST_NO_STDIO) && (defined(__unix__) || defined(__APPLE__))
#define DST__POSIX_FILES 1 /* the weight file's atomic save: open, write, fsync, rename */
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#endif
#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(DST_NO_STDIO) && !defined(_WIN32)
#include <dirent.h> /* image folders: opendir, readdir, stat */
#include <sys/stat.h>
#endif

/* restrict: C99's keyword, the common extension in C++ */
#if !defined(__cplusplus)
#define DST__RESTRICT restrict
#elif defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER)
#define DST__RESTRICT __restrict
#else
#define DST__RESTRICT
#endif

/* ==== platform and SIMD ========================================== >>simd */

/* ---- which instruction sets this build has ----
   One flag per platform, nothing else says it:
   DST__SIMD_X86   x86 with intrinsics and SSE2 in the baseline (every
                   x86-64; 32-bit builds made with -msse2). GCC and Clang
                   compile each AVX2 / AVX-512 kernel with
                   __attribute__((target(...))), so a plain -O2 build has all
                   of them and cpuid picks at run time; MSVC compiles
                   intrinsics without attributes.
                   A 32-bit build without SSE2 in its baseline (gcc and
                   clang -m32) gets no SIMD at all, not SSE2 and up by
                   target attributes: Clang (-O1 and up) calls a static
                   function by its own convention, which on i386 passes and
                   returns a float in an XMM register when the function is
                   compiled with SSE2 and on the x87 stack when it is not,
                   so a plain caller and an SSE2-target callee disagree on
                   where every float argument is (dst_sgemm's alpha and beta
                   arrive as garbage: docs/PLATFORMS.md). With SSE2 in the
                   baseline every function agrees.
   DST__SIMD_NEON  AArch64: NEON at compile time.
   DST__NEON_DOT   AArch64 with the dot-product instructions (sdot, ARMv8.2's
                   DotProd) for the int8 kernels: 1 when the compiler
                   targets them (-march=armv8.2-a+dotprod and later: always
                   used); 2 when GCC 10 or later on Linux can compile them
                   by a target attribute (used when the CPU says it has
                   them, getauxval); else undefined (the widening NEON
                   kernels only: Clang needs the flag).
   Neither (tcc, which has no intrinsics; DST_NO_SIMD; other CPUs): the
   scalar kernels only. */
#if !defined(DST_NO_SIMD) && !defined(__TINYC__)
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__) && \
    (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 5))
#define DST__SIMD_X86 1
#define DST__TARGET(t) __attribute__((target(t)))
#include <immintrin.h>
#include <cpuid.h>
#elif defined(_MSC_VER) && _MSC_VER >= 1910 && (defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
#define DST__SIMD_X86 1
#define DST__TARGET(t)
#include <intrin.h>
#include <immintrin.h>
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define DST__SIMD_NEON 1
#include <arm_neon.h>
#if defined(__ARM_FEATURE_DOTPROD)
#define DST__NEON_DOT 1
#define DST__TARGET_DOT
#elif defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 10 && defined(__linux__)
#define DST__NEON_DOT 2
#define DST__TARGET_DOT __attribute__((target("arch=armv8.2-a+dotprod")))
#include <sys/auxv.h>
#endif
#endif
#endif

#if defined(__GNUC__) || defined(__clang__)
#define DST__PREFETCH(p) __builtin_prefetch(p, 1, 3)
#define DST__PREFETCH_R(p) __builtin_prefetch(p, 0, 3)
#else
#define DST__PREFETCH(p) ((void)(p))
#define DST__PREFETCH_R(p) ((void)(p))
#endif

#define DST__CAT(a, b) DST__CAT_(a, b)
#define DST__CAT_(a, b) a##b

/* ---- the vector vocabulary ----
   One set of names per instruction set, written once: isa is sse2, avx2,
   avx512 or neon, and a kernel written over DST__V...(isa, ...) is the
   same code for each (isa may itself be a macro, as DST__V4ISA below).
     DST__VEC(isa)             the vector type, DST__VW(isa) floats
     DST__VATTR(isa)           the function attribute its kernels need
     DST__VZERO(isa)  DST__VSET1(isa, x)  DST__VLOAD(isa, p)  DST__VSTORE(isa, p, v)   (unaligned)
     DST__VADD / VSUB / VMUL / VDIV (isa, a, b), DST__VSQRT(isa, a): one rounding each
     DST__VFMA(isa, a, b, c)   a * b + c: fused (one rounding) on AVX2, AVX-512
                               and NEON, a multiply and an add on SSE2
     DST__VHSUM(isa, v)        the sum of the lanes
     DST__VLEAVE(isa)          at the end of a kernel, before it returns or
                               hands its tail to plain C: vzeroupper on AVX2
                               and AVX-512 (SSE code run while the upper
                               halves are dirty is several times slower on
                               some CPUs, and GCC does not emit it before
                               every tail call), nothing elsewhere
   and, in the 4-lane sets (SSE2, NEON) for the element-wise kernels:
     DST__VPOS_OR_0(isa, s, a) per lane s > 0 ? a : +0 (a NaN s gives +0),
                               which is ReLU as DST__VPOS_OR_0(isa, a, a)
     DST__VNAN_OR(isa, acc, a) sets acc's lanes where a is NaN;
     DST__VANY(isa, acc)       whether any lane of acc is set
   and, in the 8- and 16-lane sets (AVX2, AVX-512) for the Winograd transforms:
     DST__VROW(isa, row, off, n, col, w)  the columns [col, col + W) of a row
                               of w floats, zero outside [0, w); off is the
                               row's index in an array of n floats (a load
                               never leaves the array)
     DST__VEVEN(isa, a, b), DST__VODD(isa, a, b)  the even and the odd lanes
                               of the 2W floats a then b
   Element-wise kernels that must round as their plain C loop use VMUL and
   VADD, never VFMA. */
#define DST__VEC(isa) DST__CAT(dst__vec_, isa)
#define DST__VW(isa) DST__CAT(DST__VW_, isa)
#define DST__VATTR(isa) DST__CAT(DST__VATTR_, isa)
#define DST__VZERO(isa) DST__CAT(DST__VZERO_, isa)()
#define DST__VSET1(isa, x) DST__CAT(DST__VSET1_, isa)(x)
#define DST__VLOAD(isa, p) DST__CAT(DST__VLOAD_, isa)(p)
#define DST__VSTORE(isa, p, v) DST__CAT(DST__VSTORE_, isa)(p, v)
#define DST__VADD(isa, a, b) DST__CAT(DST__VADD_, isa)(a, b)
#define DST__VSUB(isa, a, b) DST__CAT(DST__VSUB_, isa)(a, b)
#define DST__VMUL(isa, a, b) DST__CAT(DST__VMUL_, isa)(a, b)
#define DST__VDIV(isa, a, b) DST__CAT(DST__VDIV_, isa)(a, b)
#define DST__VSQRT(isa, a) DST__CAT(DST__VSQRT_, isa)(a)
#define DST__VFMA(isa, a, b, c) DST__CAT(DST__VFMA_, isa)(a, b, c)
#define DST__VHSUM(isa, v) DST__CAT(DST__VHSUM_, isa)(v)
#define DST__VLEAVE(isa) DST__CAT(DST__VLEAVE_, isa)()
#define DST__VPOS_OR_0(isa, s, a) DST__CAT(DST__VPOS_OR_0_, isa)(s, a)
#define DST__VNAN_OR(isa, acc, a) DST__CAT(DST__VNAN_OR_, isa)(acc, a)
#define DST__VANY(isa, acc) DST__CAT(DST__VANY_, isa)(acc)
#define DST__VROW(isa, row, off, n, col, w) DST__CAT(dst__row_, isa)(row, off, n, col, w)
#define DST__VEVEN(isa, a, b) DST__CAT(DST__VEVEN_, isa)(a, b)
#define DST__VODD(isa, a, b) DST__CAT(DST__VODD_, isa)(a, b)

#if defined(DST__SIMD_X86)
/* SSE2: part of the baseline, no attribute */
typedef __m128 dst__vec_sse2;
#define DST__VW_sse2 4
#define DST__VATTR_sse2
#define DST__VZERO_sse2() _mm_setzero_ps()
#define DST__VSET1_sse2(x) _mm_set1_ps(x)
#define DST__VLOAD_sse2(p) _mm_loadu_ps(p)
#define DST__VSTORE_sse2(p, v) _mm_storeu_ps(p, v)
#define DST__VADD_sse2(a, b) _mm_add_ps(a, b)
#define DST__VSUB_sse2(a, b) _mm_sub_ps(a, b)
#define DST__VMUL_sse2(a, b) _mm_mul_ps(a, b)
#define DST__VDIV_sse2(a, b) _mm_div_ps(a, b)
#define DST__VSQRT_sse2(a) _mm_sqrt_ps(a)
#define DST__VFMA_sse2(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
#define DST__VHSUM_sse2(v) dst__hsum_sse2(v)
#define DST__VLEAVE_sse2() ((void)0)
#define DST__VPOS_OR_0_sse2(s, a) _mm_and_ps(_mm_cmpgt_ps(s, _mm_setzero_ps()), a)
#define DST__VNAN_OR_sse2(acc, a) _mm_or_ps(acc, _mm_cmpunord_ps(a, a))
#define DST__VANY_sse2(acc) (_mm_movemask_ps(acc) != 0)
static float dst__hsum_sse2(__m128 v)
{
    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* AVX2 + FMA */
typedef __m256 dst__vec_avx2;
#define DST__VW_avx2 8
#define DST__VATTR_avx2 DST__TARGET("avx2,fma")
#define DST__VZERO_avx2() _mm256_setzero_ps()
#define DST__VSET1_avx2(x) _mm256_set1_ps(x)
#define DST__VLOAD_avx2(p) _mm256_loadu_ps(p)
#define DST__VSTORE_avx2(p, v) _mm256_storeu_ps(p, v)
#define DST__VADD_avx2(a, b) _mm256_add_ps(a, b)
#define DST__VSUB_avx2(a, b) _mm256_sub_ps(a, b)
#define DST__VMUL_avx2(a, b) _mm256_mul_ps(a, b)
#define DST__VDIV_avx2(a, b) _mm256_div_ps(a, b)
#define DST__VSQRT_avx2(a) _mm256_sqrt_ps(a)
#define DST__VFMA_avx2(a, b, c) _mm256_fmadd_ps(a, b, c)
#define DST__VHSUM_avx2(v) dst__hsum_avx2(v)
#define DST__VLEAVE_avx2() _mm256_zeroupper()
static DST__TARGET("avx2,fma") float dst__hsum_avx2(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
/* DST__VROW: a whole load where the array allows, else a zeroed copy (the edges) */
static DST__TARGET("avx2,fma") __m256 dst__row_avx2(const float *row, size_t off, size_t n, int col, int w)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int lo = col < 0 ? -col : 0, hi = w - col < 8 ? w - col : 8, i;
    float t[8];
    if (hi <= lo) return _mm256_setzero_ps();
    if (lo == 0 && off + (size_t)col + 8 <= n) {
        __m256 v = _mm256_loadu_ps(row + col);
        if (hi == 8) return v;
        return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(hi), lane)));
    }
    for (i = 0; i < 8; ++i) t[i] = i >= lo && i < hi ? row[col + i] : 0.0f;
    return _mm256_loadu_ps(t);
}

/* DST__VEVEN, DST__VODD: an in-lane shuffle and a 64-bit permute */
#define DST__VEVEN_avx2(a, b) \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)))
#define DST__VODD_avx2(a, b) \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0)))

/* AVX-512F */
typedef __m512 dst__vec_avx512;
#define DST__VW_avx512 16
#define DST__VATTR_avx512 DST__TARGET("avx512f")
#define DST__VZERO_avx512() _mm512_setzero_ps()
#define DST__VSET1_avx512(x) _mm512_set1_ps(x)
#define DST__VLOAD_avx512(p) _mm512_loadu_ps(p)
#define DST__VSTORE_avx512(p, v) _mm512_storeu_ps(p, v)
#define DST__VADD_avx512(a, b) _mm512_add_ps(a, b)
#define DST__VSUB_avx512(a, b) _mm512_sub_ps(a, b)
#define DST__VMUL_avx512(a, b) _mm512_mul_ps(a, b)
#define DST__VDIV_avx512(a, b) _mm512_div_ps(a, b)
#define DST__VSQRT_avx512(a) _mm512_sqrt_ps(a)
#define DST__VFMA_avx512(a, b, c) _mm512_fmadd_ps(a, b, c)
#define DST__VHSUM_avx512(v) dst__hsum_avx512(v)
#define DST__VLEAVE_avx512() _mm256_zeroupper()
static DST__TARGET("avx512f") float dst__hsum_avx512(__m512 v)
{   /* (masked forms: GCC 12 warns in C++ on the unmasked ones, which start from undefined) */
    __m512 t = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0x4E)); /* halves */
    __m128 s;
    t = _mm512_add_ps(t, _mm512_mask_shuffle_f32x4(t, 0xFFFF, t, t, 0xB1));        /* quarters */
    s = _mm512_mask_extractf32x4_ps(_mm_setzero_ps(), 0xF, t, 0);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
/* The lanes [lo, hi) of a 16-lane mask (empty when hi <= lo). */
static unsigned dst__lanes(int lo, int hi)
{
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    return hi <= lo ? 0u : (0xFFFFu >> (16 - (hi - lo))) << lo;
}

/* DST__VROW: a masked load (the masked lanes are not read); DST__VEVEN,
   DST__VODD: a two-source permute */
static DST__TARGET("avx512f") __m512 dst__row_avx512(const float *row, size_t off, size_t n, int col, int w)
{
    (void)off, (void)n;
    return _mm512_maskz_loadu_ps((__mmask16)dst__lanes(-col, w - col), row + col);
}
#define DST__VEVEN_avx512(a, b) \
    _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b)
#define DST__VODD_avx512(a, b) \
    _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b)
#endif /* DST__SIMD_X86 */

#if defined(DST__SIMD_NEON)
typedef float32x4_t dst__vec_neon;
#define DST__VW_neon 4
#define DST__VATTR_neon
#define DST__VZERO_neon() vdupq_n_f32(0.0f)
#define DST__VSET1_neon(x) vdupq_n_f32(x)
#define DST__VLOAD_neon(p) vld1q_f32(p)
#define DST__VSTORE_neon(p, v) vst1q_f32(p, v)
#define DST__VADD_neon(a, b) vaddq_f32(a, b)
#define DST__VSUB_neon(a, b) vsubq_f32(a, b)
#define DST__VMUL_neon(a, b) vmulq_f32(a, b)
#define DST__VDIV_neon(a, b) vdivq_f32(a, b)
#define DST__VSQRT_neon(a) vsqrtq_f32(a)
#define DST__VFMA_neon(a, b, c) vfmaq_f32(c, a, b)
#define DST__VHSUM_neon(v) vaddvq_f32(v)
#define DST__VLEAVE_neon() ((void)0)
#define DST__VPOS_OR_0_neon(s, a) vbslq_f32(vcgtq_f32(s, vdupq_n_f32(0)), a, vdupq_n_f32(0))
#define DST__VNAN_OR_neon(acc, a) \
    vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(acc), vmvnq_u32(vceqq_f32(a, a))))
#define DST__VANY_neon(acc) (vmaxvq_u32(vreinterpretq_u32_f32(acc)) != 0)
#endif /* DST__SIMD_NEON */

/* The 4-lane set every build with SIMD has (SSE2 on x86, NEON on AArch64):
   the element-wise kernels, the convolution's row loops and the depthwise
   planes are written once over it. DST__V4NAME(dst__relu) is dst__relu_sse2
   or dst__relu_neon. */
#if defined(DST__SIMD_X86) || defined(DST__SIMD_NEON)
#define DST__SIMD_ANY 1
#endif
#if defined(DST__SIMD_X86)
#define DST__V4ISA sse2
#elif defined(DST__SIMD_NEON)
#define DST__V4ISA neon
#endif
#if defined(DST__V4ISA)
#define DST__V4NAME(name) DST__CAT(name, DST__CAT(_, DST__V4ISA))
typedef DST__VEC(DST__V4ISA) dst__v4;
#endif

/* ---- CPU detection ----
   x86: cpuid for the features, xgetbv for what the OS saves on a context
   switch (AVX needs the YMM state, AVX-512 also the opmask and ZMM states). */
#if defined(DST__SIMD_X86)
static void dst__cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
#if defined(_MSC_VER) && !defined(__clang__)
    int v[4];
    __cpuidex(v, (int)leaf, (int)sub);
    r[0] = (unsigned)v[0]; r[1] = (unsigned)v[1]; r[2] = (unsigned)v[2]; r[3] = (unsigned)v[3];
#else
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

/* XCR0: which register states the OS saves on a context switch */
static unsigned long long dst__xgetbv0(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    return (unsigned long long)_xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
#endif
}

static dst_simd dst__simd_detect(void)
{
    unsigned r[4], max_leaf, ecx1, ebx7 = 0;
    unsigned long long xcr0 = 0;
    dst_simd best = DST_SIMD_SCALAR;
    dst__cpuid(0, 0, r);
    max_leaf = r[0];
    if (max_leaf < 1) return best;
    dst__cpuid(1, 0, r);
    ecx1 = r[2];
    if (r[3] & (1u << 26)) best = DST_SIMD_SSE2;
    else return best;
    if (ecx1 & (1u << 27)) xcr0 = dst__xgetbv0();           /* OSXSAVE */
    if (max_leaf >= 7) { dst__cpuid(7, 0, r); ebx7 = r[1]; }
    if ((ecx1 & (1u << 28)) && (ecx1 & (1u << 12)) &&       /* AVX, FMA */
        (ebx7 & (1u << 5)) && (xcr0 & 6) == 6)              /* AVX2; XMM and YMM saved */
        best = DST_SIMD_AVX2;
    if (best == DST_SIMD_AVX2 && (ebx7 & (1u << 16)) &&     /* AVX-512F */
        (xcr0 & 0xE6) == 0xE6)                              /* and opmask, ZMM saved */
        best = DST_SIMD_AVX512;
    return best;
}
#elif defined(DST__SIMD_NEON)
static dst_simd dst__simd_detect(void) { return DST_SIMD_NEON; }
#else
static dst_simd dst__simd_detect(void) { return DST_SIMD_SCALAR; }
#endif

/* ---- the level in use ----
   The only global state of the library: the detected level (a cache) and
   the level dst_simd_force set. Both are ints read and written whole with
   atomic operations (relaxed: each is a value of its own, nothing else is
   published through it), so threads that make their first call at the
   same moment may each run the detection, which gives the same value,
   and store it: no data race. Compilers with neither GCC's __atomic
   builtins nor MSVC's Interlocked functions get plain ints. */
#if defined(__GNUC__) && !defined(__clang__) && (__GNUC__ > 4 || (__GNUC__ == 4 && __GNUC_MINOR__ >= 7))
#define DST__ATOMIC_GCC 1
#elif defined(__clang__)
#define DST__ATOMIC_GCC 1
#endif
#if defined(DST__ATOMIC_GCC)
typedef int dst__atomic_int;
#define DST__ATOMIC_LOAD(p) __atomic_load_n(p, __ATOMIC_RELAXED)
#define DST__ATOMIC_STORE(p, v) __atomic_store_n(p, v, __ATOMIC_RELAXED)
#elif defined(_MSC_VER)
#include <intrin.h>
typedef long dst__atomic_int;
#define DST__ATOMIC_LOAD(p) _InterlockedCompareExchange(p, 0, 0)
#define DST__ATOMIC_STORE(p, v) ((void)_InterlockedExchange(p, v))
#else
typedef int dst__atomic_int;
#define DST__ATOMIC_LOAD(p) (*(p))
#define DST__ATOMIC_STORE(p, v) (*(p) = (v))
#endif

static dst__atomic_int dst__simd_detected = -1; /* the best level, once known */
static dst__atomic_int dst__simd_forced = (dst__atomic_int)DST_SIMD_AUTO;

/* the best level this build and CPU have */
static dst_simd dst__simd_best(void)
{
    dst__atomic_int best = DST__ATOMIC_LOAD(&dst__simd_detected);
    if (best < 0) {
        best = (dst__atomic_int)dst__simd_detect();
        DST__ATOMIC_STORE(&dst__simd_detected, best);
    }
    return (dst_simd)best;
}

#if defined(DST__SIMD_X86)
/* AVX-512's integer extensions, for the int8 kernels of the AVX-512 level
   (which needs only AVX-512F): 0 neither, 1 BW and VL, 2 those and VNNI.
   Cached like the level. */
static dst__atomic_int dst__avx512_int8_detected = -1;
static int dst__cpu_avx512_int8(void)
{
    dst__atomic_int v = DST__ATOMIC_LOAD(&dst__avx512_int8_detected);
    if (v < 0) {
        unsigned r[4] = { 0, 0, 0, 0 };
        dst__cpuid(0, 0, r);
        if (r[0] >= 7) dst__cpuid(7, 0, r);
        else r[1] = r[2] = 0;
        v = ((r[1] >> 30) & 1) && ((r[1] >> 31) & 1) ? ((r[2] >> 11) & 1 ? 2 : 1) : 0; /* BW, VL; VNNI */
        DST__ATOMIC_STORE(&dst__avx512_int8_detected, v);
    }
    return (int)v;
}
#endif

#if defined(DST__NEON_DOT)
/* 1 when the CPU has AArch64's dot-product instructions (HWCAP_ASIMDDP,
   bit 20 of AT_HWCAP on Linux); always 1 when the build targets them */
static int dst__cpu_neon_dot(void)
{
#if DST__NEON_DOT == 1
    return 1;
#else
    return (getauxval(AT_HWCAP) >> 20) & 1;
#endif
}
#endif

static int dst__simd_has(dst_simd level)
{
    dst_simd best = dst__simd_best();
    if (level == DST_SIMD_AUTO || level == DST_SIMD_SCALAR) return 1;
    if (best == DST_SIMD_NEON) return level == DST_SIMD_NEON;
    return level != DST_SIMD_NEON && level <= best; /* x86 levels are ordered */
}

DSTDEF dst_result dst_simd_force(dst_simd level)
{
    if ((int)level < (int)DST_SIMD_AUTO || (int)level > (int)DST_SIMD_NEON) return DST_ERR_ARG;
    if (!dst__simd_has(level)) return DST_ERR_UNSUPPORTED;
    DST__ATOMIC_STORE(&dst__simd_forced, (dst__atomic_int)level);
    return DST_OK;
}

DSTDEF dst_simd dst_simd_active(void)
{
    dst_simd forced = (dst_simd)DST__ATOMIC_LOAD(&dst__simd_forced);
    return forced != DST_SIMD_AUTO ? forced : dst__simd_best();
}

DSTDEF const char *dst_simd_name(dst_simd level)
{
    switch (level) {
    case DST_SIMD_AUTO: return "auto";
    case DST_SIMD_SCALAR: return "scalar";
    case DST_SIMD_SSE2: return "sse2";
    case DST_SIMD_AVX2: return "avx2";
    case DST_SIMD_AVX512: return "avx512";
    case DST_SIMD_NEON: return "neon";
    }
    return "unknown";
}

/* ---- the kernel table ----
   Every kernel that has vector versions is reached through one table per
   level (dst__kernels_scalar, _sse2, _avx2, _avx512, _neon), and the one
   in use comes from dst__kern(): the level dst_simd_active() says, so a
   forced level switches every vector loop, and the scalar table holds the
   plain C loops, the reference of the tests, everywhere. Shape rules (the
   GEMM's small-problem path, the convolution's path) stay with their
   kernels; only the choice of instruction set is made here. The tables
   are defined after the last kernel (C++ cannot declare a static object
   ahead of its definition): search for dst__kernels_for. */
typedef struct dst__gemm_isa dst__gemm_isa;
typedef struct dst__opt_consts dst__opt_consts;
typedef struct dst__plane dst__plane;
typedef struct dst__wino dst__wino;
typedef struct dst__kernels {
    dst_simd level;
    /* the GEMM's micro-kernels, also Winograd's products; NULL: the scalar reference GEMM */
    const dst__gemm_isa *gemm;
    /* element-wise (activations, dense layers, training) */
    void (*relu)(const float *x, float *y, size_t n);
    void (*relu_grad)(const float *s, const float *dy, float *dx, size_t n);
    void (*bias_relu)(float *y, const float *b, size_t rows, size_t cols, int relu);
    void (*column_sums)(const float *dy, size_t ld, float *db, size_t rows, size_t cols);
    int (*all_finite)(const float *v, size_t n);
    /* optimizers */
    void (*sgd)(const dst__opt_consts *k, float *p, const float *g, float *buf, size_t n);
    void (*adam)(const dst__opt_consts *k, float *p, const float *g, float *m, float *v, size_t n);
    /* convolution: 1 when the row loops (im2col, col2im, the direct path,
       bias and sums) take the 4-lane set, 0 for plain C */
    int conv_rows;
    /* depthwise planes; NULL: the direct path's row loops */
    void (*plane_forward)(const dst__plane *q, const float *in, const float *k, float b, int accumulate, float *out);
    void (*plane_weight_grad)(const dst__plane *q, const float *in, const float *g, float *gk);
    /* Winograd: channels in and out from which it pays at this level (0:
       never chosen by AUTO), and its transforms (NULL: plain C) */
    int wino_channels;
    void (*wino_input)(const dst__wino *q, const float *x, size_t g0, int cnt, float *tv);
    void (*wino_output)(const dst__wino *q, const float *m, const float *bias, int relu, size_t g0, int cnt, float *y);
    void (*wino_grad)(const dst__wino *q, const float *dy, size_t g0, int cnt, float *td);
    /* max pooling, 2x2 windows, stride 2, no padding; NULL: the reference loops */
    void (*maxpool2x2)(const dst_pool2d_params *p, int batch, const float *x, float *y, int32_t *argmax);
    /* int8 models: rows of u8 x s8 dot products in int32 (see >>int8) */
    void (*q8_dot)(const uint8_t *x, const int8_t *w, size_t k, size_t rows, size_t ldw, int32_t *out, size_t ostride);
    void (*q8_conv)(const uint8_t *x4, const int8_t *w, size_t k, size_t npos, size_t rows, int32_t *out);
    void (*q8_rows4)(const uint8_t *const *src, size_t n, size_t rows, size_t stride, uint8_t *dst);
    void (*q8_max2x2)(const uint8_t *r0, const uint8_t *r1, size_t n, uint8_t *o);
    void (*q8_requant)(const int32_t *acc, size_t n, const float *k, uint8_t *y);
    void (*q8_quantize)(const float *x, size_t n, float scale, int32_t zero, uint8_t *q);
    /* quantization-aware training's passes over a tensor (>>quantize); NULL in an inference-only build */
    void (*qat_range)(const float *v, size_t n, float *lo, float *hi);
    void (*qat_round)(float *v, size_t n, float scale, int32_t zero, unsigned char *keep);
} dst__kernels;

static const dst__kernels *dst__kernels_for(dst_simd level);
static const dst__kernels *dst__kern(void) { return dst__kernels_for(dst_simd_active()); }

/* ==== results, errors, small helpers =========================== >>errors */

DSTDEF const char *dst_version(void) { return DISTILL_VERSION_STRING; }

DSTDEF const char *dst_result_string(dst_result r)
{
    switch (r) {
#define DST__RESULT_CASE(name, value, words) case name: return words;
        DST_RESULT_LIST(DST__RESULT_CASE)
#undef DST__RESULT_CASE
    default: return "unknown result code";
    }
}

/* Writes "message" into a 256-byte buffer (may be NULL) and returns code. */
static dst_result dst__vfail(char *buf, dst_result code, const char *fmt, va_list ap)
{
    if (buf) vsnprintf(buf, 256, fmt, ap);
    return code;
}

static dst_result dst__err(dst_error *err, dst_result code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err) err->code = code;
    code = dst__vfail(err ? err->message : NULL, code, fmt, ap);
    va_end(ap);
    return code;
}

static void dst__err_clear(dst_error *err)
{
    if (err) { err->code = DST_OK; err->message[0] = 0; }
}

/* size_t multiplication that reports overflow instead of wrapping */
static int dst__mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a) return 0;
    *out = a * b;
    return 1;
}

/* 1 when a * b * c <= limit (all >= 0), decided by division: the shape
   checks take sizes a caller or a file may set to anything, so a product is
   only formed once it is known to fit. */
static int dst__product_le(long long a, long long b, long long c, long long limit)
{
    if (a == 0 || b == 0 || c == 0) return 1;
    if (a > limit / b) return 0;
    return a * b <= limit / c;
}

/* A size as a dst__product_le limit (saturating). */
static long long dst__limit_of(size_t n) { return n > (size_t)LLONG_MAX ? LLONG_MAX : (long long)n; }

/* The most floats one array may hold. */
static long long dst__max_floats(void) { return dst__limit_of((size_t)-1 / sizeof(float)); }

/* 64-byte-aligned blocks: the original pointer sits just before the block. */
static void *dst__alloc_aligned(size_t bytes, void *ctx)
{
    unsigned char *raw, *p;
    if (bytes > (size_t)-1 - 64 - sizeof(void *)) return NULL;
    raw = (unsigned char *)DST_MALLOC(bytes + 64 + sizeof(void *), ctx);
    if (!raw) return NULL;
    p = raw + sizeof(void *);
    p += (64 - ((uintptr_t)p & 63)) & 63;
    memcpy(p - sizeof(void *), &raw, sizeof(void *));
    return p;
}

static void dst__free_aligned(void *p, void *ctx)
{
    void *raw;
    if (!p) return;
    memcpy(&raw, (unsigned char *)p - sizeof(void *), sizeof(void *));
    DST_FREE(raw, ctx);
}

DSTDEF void dst_free(void *p) { DST_FREE(p, NULL); }

/* dst_seconds: wall-clock seconds from a monotonic source, never clock()
   (processor time: it counts every thread's work, or stops while the
   process waits). Windows: QueryPerformanceCounter; Apple: mach_absolute_time;
   POSIX: clock_gettime(CLOCK_MONOTONIC). A strict ISO C build (-std=c99)
   hides clock_gettime when a system header came before this one (the
   feature macro at the top of the file was then too late): on Linux we
   declare it ourselves under a private name bound to the real symbol, where
   struct timespec is two longs (64-bit Linux, and 32-bit glibc with its
   32-bit time_t symbol), so it never clashes with a declaration the user can
   see. Elsewhere C11's timespec_get (a wall clock, not monotonic), and last
   time() (whole seconds). dst__seconds_source names the choice, for the
   tests. */
#if defined(_WIN32)
#define DST__SECONDS_SOURCE "QueryPerformanceCounter"
#elif defined(__APPLE__)
#define DST__SECONDS_SOURCE "mach_absolute_time"
#elif defined(CLOCK_MONOTONIC)
#define DST__SECONDS_SOURCE "clock_gettime"
#elif defined(__linux__) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__LP64__) || (defined(__GLIBC__) && defined(__TIMESIZE) && __TIMESIZE == 32))
#define DST__SECONDS_SOURCE "clock_gettime (declared by distill.h)"
#define DST__OWN_CLOCK_GETTIME 1
struct dst__timespec { long tv_sec, tv_nsec; }; /* struct timespec there */
extern int dst__clock_gettime(int clock_id, struct dst__timespec *ts) __asm__("clock_gettime");
#elif defined(TIME_UTC)
#define DST__SECONDS_SOURCE "timespec_get"
#else
#define DST__SECONDS_SOURCE "time"
#endif
static const char dst__seconds_source[] = DST__SECONDS_SOURCE;

DSTDEF double dst_seconds(void)
{
#if defined(_WIN32)
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart / (double)f.QuadPart;
#elif defined(__APPLE__)
    mach_timebase_info_data_t tb;
    mach_timebase_info(&tb);
    return (double)mach_absolute_time() * (double)tb.numer / (double)tb.denom * 1e-9;
#elif defined(CLOCK_MONOTONIC)
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#elif defined(DST__OWN_CLOCK_GETTIME)
    struct dst__timespec ts;
    dst__clock_gettime(1 /* CLOCK_MONOTONIC on Linux */, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#elif defined(TIME_UTC)
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#else
    return (double)time(NULL);
#endif
}

static int dst__finite(float x) { return x - x == 0.0f; }

/* ==== threads =============================================== >>threads */

/* Work on threads: fn(ctx, block, worker) for every block of [0, blocks).
   The caller cuts the blocks from the shapes; worker w of `workers` does
   blocks w, w + workers, ... in increasing order, so scratch indexed by w
   is its own, and what a block computes cannot depend on who runs it.
   One worker (no threads, or small work) is the calling thread doing every
   block in order. */
typedef void (*dst__block_fn)(void *ctx, int block, int worker);
#define DST__MAX_WORKERS 256 /* a wider dst_threads is used 256 wide */
typedef struct dst__par_job {
    dst__block_fn fn;
    void *ctx;
    int blocks, workers;
} dst__par_job;

static void dst__par_task(void *job, int task)
{
    const dst__par_job *j = (const dst__par_job *)job;
    int b;
    for (b = task; b < j->blocks; b += j->workers) j->fn(j->ctx, b, task);
}

/* the workers for blocks blocks: the width of t, at most blocks and limit */
static int dst__par_workers(const dst_threads *t, int blocks, int limit)
{
    int w = t && t->parallel_for && t->width > 1 ? t->width : 1;
    if (w > blocks) w = blocks;
    if (w > limit) w = limit;
    return w < 1 ? 1 : w;
}

static void dst__par_for(const dst_threads *t, int workers, int blocks, dst__block_fn fn, void *ctx)
{
    dst__par_job j;
    j.fn = fn;
    j.ctx = ctx;
    j.blocks = blocks;
    j.workers = workers > 1 && t && t->parallel_for ? workers : 1;
    if (j.workers == 1) dst__par_task(&j, 0);
    else t->parallel_for(t->user, j.workers, dst__par_task, &j);
}

/* Work too small to pay for waking threads stays on the calling thread:
   below about this many multiply-adds a block (docs/BENCHMARKS.md). */
#ifndef DST__PAR_MIN_FLOPS
#define DST__PAR_MIN_FLOPS 65536.0
#endif
/* Element-wise work (activations; pooling by groups of samples) is cut into
   blocks of about this many values, fixed by the sizes: each value is
   computed as on one thread, so any split gives the same bits. */
#define DST__PAR_ELEMS 32768
/* workers for blocks of flops multiply-adds each */
static int dst__par_workers_for(const dst_threads *t, int blocks, double flops, int limit)
{
    return flops * blocks < 2 * DST__PAR_MIN_FLOPS ? 1 : dst__par_workers(t, blocks, limit);
}

/* ---- the built-in pool ----
   size - 1 threads wait on a condition variable for a job (fn, ctx, tasks)
   and a new generation number; thread i (the caller is 0) runs tasks i,
   i + size, ...; the caller then waits until every thread has reported.
   A second mutex lets one call in at a time.
   Spinning before sleeping: a training step hands out a job per layer, back
   to back, and waking a sleeping thread costs tens of microseconds (more in
   a virtual machine: docs/BENCHMARKS.md, "Threads"), so a worker that has
   finished a job watches the generation for about DST_POOL_SPIN pause
   instructions before it sleeps, and the caller watches its workers finish
   likewise. At 2^14 this is some tens of microseconds of one core per job
   end; 0 turns it off (a program whose other threads need the cores back at
   once). Compilers with no atomics this code knows (tcc) do not spin. */
#ifndef DST_POOL_SPIN
#define DST_POOL_SPIN 16384
#endif
#if !defined(DST_NO_THREADS)
/* The spin only saves the sleep: what a job publishes still passes through
   the pool's lock, taken after it, so relaxed atomic reads suffice. */
#if defined(DST__ATOMIC_GCC) && (defined(__i386__) || defined(__x86_64__))
#define DST__PAUSE() __builtin_ia32_pause()
#elif defined(DST__ATOMIC_GCC) && (defined(__aarch64__) || defined(__arm__))
#define DST__PAUSE() __asm__ __volatile__("yield")
#elif defined(_MSC_VER)
#define DST__PAUSE() YieldProcessor()
#else
#define DST__PAUSE() ((void)0)
#endif
#if defined(DST__ATOMIC_GCC) || defined(_MSC_VER)
/* Spins while *p is v, at most DST_POOL_SPIN times (no lock held). */
static void dst__spin_while(dst__atomic_int *p, dst__atomic_int v)
{
    long i;
    for (i = 0; i < DST_POOL_SPIN && DST__ATOMIC_LOAD(p) == v; ++i) DST__PAUSE();
}

/* Spins until *p is v, likewise. */
static void dst__spin_until(dst__atomic_int *p, dst__atomic_int v)
{
    long i;
    for (i = 0; i < DST_POOL_SPIN && DST__ATOMIC_LOAD(p) != v; ++i) DST__PAUSE();
}
#else /* plain ints: reading them outside the lock would be a data race */
static void dst__spin_while(dst__atomic_int *p, dst__atomic_int v) { (void)p; (void)v; }
static void dst__spin_until(dst__atomic_int *p, dst__atomic_int v) { (void)p; (void)v; }
#endif
#endif
#if !defined(DST_NO_THREADS) && defined(_WIN32)
typedef CRITICAL_SECTION dst__mutex;
typedef CONDITION_VARIABLE dst__cond;
typedef HANDLE dst__thread;
#define DST__THREAD_FN(name, arg) static DWORD WINAPI name(LPVOID arg)
static int dst__mutex_init(dst__mutex *x) { InitializeCriticalSection(x); return 1; }
static void dst__mutex_free(dst__mutex *x) { DeleteCriticalSection(x); }
static void dst__lock(dst__mutex *x) { EnterCriticalSection(x); }
static void dst__unlock(dst__mutex *x) { LeaveCriticalSection(x); }
static int dst__cond_init(dst__cond *c) { InitializeConditionVariable(c); return 1; }
static void dst__cond_free(dst__cond *c) { (void)c; }
static void dst__cond_wait(dst__cond *c, dst__mutex *x) { SleepConditionVariableCS(c, x, INFINITE); }
static void dst__cond_wake_all(dst__cond *c) { WakeAllConditionVariable(c); }
static int dst__thread_start(dst__thread *t, LPTHREAD_START_ROUTINE fn, void *arg)
{
    *t = CreateThread(NULL, 0, fn, arg, 0, NULL);
    return *t != NULL;
}
static void dst__thread_join(dst__thread t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
DSTDEF int dst_cpu_count(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwNumberOfProcessors > 0 ? (int)si.dwNumberOfProcessors : 1;
}
#elif !defined(DST_NO_THREADS)
typedef pthread_mutex_t dst__mutex;
typedef pthread_cond_t dst__cond;
typedef pthread_t dst__thread;
#define DST__THREAD_FN(name, arg) static void *name(void *arg)
static int dst__mutex_init(dst__mutex *x) { return pthread_mutex_init(x, NULL) == 0; }
static void dst__mutex_free(dst__mutex *x) { pthread_mutex_destroy(x); }
static void dst__lock(dst__mutex *x) { pthread_mutex_lock(x); }
static void dst__unlock(dst__mutex *x) { pthread_mutex_unlock(x); }
static int dst__cond_init(dst__cond *c) { return pthread_cond_init(c, NULL) == 0; }
static void dst__cond_free(dst__cond *c) { pthread_cond_destroy(c); }
static void dst__cond_wait(dst__cond *c, dst__mutex *x) { pthread_cond_wait(c, x); }
static void dst__cond_wake_all(dst__cond *c) { pthread_cond_broadcast(c); }
static int dst__thread_start(dst__thread *t, void *(*fn)(void *), void *arg) { return pthread_create(t, NULL, fn, arg) == 0; }
static void dst__thread_join(dst__thread t) { pthread_join(t, NULL); }
DSTDEF int dst_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 1 << 16 ? (int)n : 1;
}
#else
DSTDEF int dst_cpu_count(void) { return 1; }
#endif

#if !defined(DST_NO_THREADS)
typedef struct dst__pool_worker {
    dst_pool *pool;
    int index; /* 1 .. size - 1 */
} dst__pool_worker;

struct dst_pool {
    int size;                 /* threads in all, the caller included */
    dst__mutex lock;          /* guards what follows */
    dst__cond wake, done;
    dst_task_fn fn;           /* the job */
    void *ctx;
    int tasks;
    dst__atomic_int generation; /* one more per job (wrapping); written under lock, read also by spinners */
    dst__atomic_int pending;    /* threads yet to finish it (likewise) */
    int quit;
    dst__mutex call;          /* held through a whole parallel_for */
    dst__thread *threads;     /* size - 1 */
    dst__pool_worker *workers;
};

DST__THREAD_FN(dst__pool_main, arg)
{
    dst__pool_worker *me = (dst__pool_worker *)arg;
    dst_pool *p = me->pool;
    dst__atomic_int seen = 0;
    dst__lock(&p->lock);
    for (;;) {
        dst_task_fn fn;
        void *ctx;
        int tasks, t;
        while (p->generation == seen && !p->quit) dst__cond_wait(&p->wake, &p->lock);
        if (p->quit) break;
        seen = p->generation;
        fn = p->fn; ctx = p->ctx; tasks = p->tasks;
        dst__unlock(&p->lock);
        for (t = me->index; t < tasks; t += p->size) fn(ctx, t);
        dst__lock(&p->lock);
        DST__ATOMIC_STORE(&p->pending, p->pending - 1);
        if (p->pending == 0) dst__cond_wake_all(&p->done);
        dst__unlock(&p->lock);
        dst__spin_while(&p->generation, seen); /* the next job may be a moment away */
        dst__lock(&p->lock);
    }
    dst__unlock(&p->lock);
    return 0;
}

static void dst__pool_parallel_for(void *user, int tasks, dst_task_fn fn, void *ctx)
{
    dst_pool *p = (dst_pool *)user;
    int t;
    if (tasks < 1) return;
    if (p->size == 1 || tasks == 1) { /* nothing to hand out */
        for (t = 0; t < tasks; ++t) fn(ctx, t);
        return;
    }
    dst__lock(&p->call);
    dst__lock(&p->lock);
    p->fn = fn; p->ctx = ctx; p->tasks = tasks;
    DST__ATOMIC_STORE(&p->pending, (dst__atomic_int)(p->size - 1));
    DST__ATOMIC_STORE(&p->generation, (dst__atomic_int)(p->generation == 0x7fffffff ? 0 : p->generation + 1));
    dst__cond_wake_all(&p->wake);
    dst__unlock(&p->lock);
    for (t = 0; t < tasks; t += p->size) fn(ctx, t);
    dst__spin_until(&p->pending, 0); /* the workers may be a moment from done */
    dst__lock(&p->lock);
    while (p->pending > 0) dst__cond_wait(&p->done, &p->lock);
    dst__unlock(&p->lock);
    dst__unlock(&p->call);
}

/* Stops and frees the first started threads of p (all of them from dst_pool_stop). */
static void dst__pool_end(dst_pool *p, int started)
{
    int i;
    dst__lock(&p->lock);
    p->quit = 1;
    dst__cond_wake_all(&p->wake);
    dst__unlock(&p->lock);
    for (i = 0; i < started; ++i) dst__thread_join(p->threads[i]);
    dst__cond_free(&p->done);
    dst__cond_free(&p->wake);
    dst__mutex_free(&p->call);
    dst__mutex_free(&p->lock);
    DST_FREE(p->workers, NULL);
    DST_FREE(p->threads, NULL);
    DST_FREE(p, NULL);
}

DSTDEF dst_result dst_pool_start(dst_pool **out, int threads)
{
    dst_pool *p;
    int i, made = 0;
    if (!out) return DST_ERR_ARG;
    *out = NULL;
    if (threads < 0 || threads > 4096) return DST_ERR_ARG;
    if (threads == 0) threads = dst_cpu_count();
    p = (dst_pool *)DST_MALLOC(sizeof *p, NULL);
    if (!p) return DST_ERR_NOMEM;
    memset(p, 0, sizeof *p);
    p->size = threads;
    p->threads = (dst__thread *)DST_MALLOC(sizeof(dst__thread) * (size_t)threads, NULL);
    p->workers = (dst__pool_worker *)DST_MALLOC(sizeof(dst__pool_worker) * (size_t)threads, NULL);
    if (!p->threads || !p->workers) {
        DST_FREE(p->workers, NULL);
        DST_FREE(p->threads, NULL);
        DST_FREE(p, NULL);
        return DST_ERR_NOMEM;
    }
    if (!dst__mutex_init(&p->lock)) goto no_lock;
    if (!dst__mutex_init(&p->call)) goto no_call;
    if (!dst__cond_init(&p->wake)) goto no_wake;
    if (!dst__cond_init(&p->done)) goto no_done;
    for (i = 1; i < threads; ++i) {
        p->workers[i - 1].pool = p;
        p->workers[i - 1].index = i;
        if (!dst__thread_start(&p->threads[i - 1], dst__pool_main, &p->workers[i - 1])) {
            dst__pool_end(p, made);
            return DST_ERR_NOMEM;
        }
        made++;
    }
    *out = p;
    return DST_OK;
no_done:
    dst__cond_free(&p->wake);
no_wake:
    dst__mutex_free(&p->call);
no_call:
    dst__mutex_free(&p->lock);
no_lock:
    DST_FREE(p->workers, NULL);
    DST_FREE(p->threads, NULL);
    DST_FREE(p, NULL);
    return DST_ERR_NOMEM;
}

DSTDEF void dst_pool_stop(dst_pool *pool)
{
    if (pool) dst__pool_end(pool, pool->size - 1);
}

DSTDEF int dst_pool_size(const dst_pool *pool) { return pool ? pool->size : 1; }

DSTDEF dst_threads dst_pool_threads(dst_pool *pool)
{
    dst_threads t;
    t.parallel_for = pool ? dst__pool_parallel_for : NULL;
    t.user = pool;
    t.width = pool ? pool->size : 1;
    return t;
}
#else
DSTDEF dst_result dst_pool_start(dst_pool **out, int threads)
{
    (void)threads;
    if (out) *out = NULL;
    return out ? DST_ERR_UNSUPPORTED : DST_ERR_ARG;
}
DSTDEF void dst_pool_stop(dst_pool *pool) { (void)pool; }
DSTDEF int dst_pool_size(const dst_pool *pool) { (void)pool; return 1; }
DSTDEF dst_threads dst_pool_threads(dst_pool *pool)
{
    dst_threads t;
    (void)pool;
    t.parallel_for = NULL;
    t.user = NULL;
    t.width = 1;
    return t;
}
#endif

/* ==== GEMM ======================================================= >>gemm */

/* dst_sgemm: C = alpha op(A) op(B) + beta C, in the style of BLIS (Van Zee &
   van de Geijn, "BLIS: a framework for rapidly instantiating BLAS
   functionality", 2015).

   Blocking. op(A) is m x k, op(B) is k x n; KC and NC below.

     for jc over n, step NC
       for pc over k, step KC
         op(B)[pc.., jc..] (KC x NC) in column panels NR wide           -> L2
         for ir over m, step MR         op(A) in a row panel MR x KC    -> L1
           for jr over NC, step NR      B panels stream from L2
             micro-kernel on the MR x NR tile of C at (ir, jc+jr)

   BLIS runs jr outside ir and keeps a B panel in L1; our tiles are wide
   (NR = 48 floats on AVX-512), so a KC x NR panel of B would not fit in L1
   while an MR x KC panel of A does: the loops are swapped. Packing writes
   both operands in exactly the order the micro-kernel reads them, whatever
   the transposes and leading dimensions were.

   Packing is mostly done by the kernels themselves, as they go: the kernel
   of the first tile of a panel of A (jr == 0) reads A where it is stored
   and writes the packed panel for the tiles to its right; when B is not
   transposed, the kernels of the first panel of A (ir == 0) read B
   where it is stored and write its packed panels for every later panel of
   A. Only B^T (8 x 8 transposes), a last B panel narrower than NR and the
   A panel of the tile that packs B are packed in passes of their own. A
   pass reads its operand from L3 or memory, with little work to hide the
   wait; inside a kernel the loads overlap the multiply-adds (the gain is
   in docs/BENCHMARKS.md, "GEMM").

   Micro-kernel: an MR x NR tile of C held in vector registers; per step p
   of KC it loads NR/W vectors of B (W floats per vector), broadcasts MR
   values of A and does MR * NR/W multiply-adds; at the end the tile goes to
   C as alpha * tile + beta * C (C is not read when beta is 0; after the
   first KC block beta is 1).
       AVX-512   8 x 48  (24 zmm accumulators)     AVX2+FMA  6 x 16 (12 ymm)
       SSE2      6 x 8   (12 xmm, multiply + add)  NEON      8 x 12 (24 q)
   One template, DST__GEMM_KERNEL below, generates every kernel from the
   vector vocabulary of each instruction set (DST__VLOAD, DST__VFMA, ...).
   It also generates the narrow variants used at the edges of C: 4, 2
   and 1 rows (a tail of 7 rows is done as 4 + 2 + 1) and 1 or 2 vectors
   (the last B panel is packed only as wide as it needs, zero-padded to a
   whole vector), so an edge costs about the work it has.

   Packing B^T and A (both stored k-contiguous) goes through 8 x 8 register
   transposes where the instruction set has them (AVX), 8 rows at a time
   along all of KC; B is not packed at all when m <= DST__GEMM_DIRECT_B_M:
   the kernels then read B in place (only a last panel narrower than NR is
   packed), as each of its values serves so few rows that copying it would
   cost about as much as using it.

   How close the kernels and the whole GEMM come to the FMA peak, per
   machine: docs/BENCHMARKS.md, "GEMM".

   Small problems. When op(A) rows and op(B) columns are both contiguous
   along k (trans_a == 0, trans_b == 1: a dense layer's forward pass
   X * W^T) and m or n is small (batch-1 inference, a 10-class output
   layer), packing costs more than it saves: a dot-product kernel works on
   the operands in place, a tile of rows of A against a tile of rows of B
   with one vector accumulator per pair, reduced at the end
   (DST__GEMM_DOT); with AVX-512 also when k >= 12 m, where the reductions
   cost less than packing B^T. B is taken in blocks of rows that fit in L2.
   The thresholds were chosen by measurement (bench/bench_gemm.c,
   docs/BENCHMARKS.md).

   Dispatch. The kernel table of the level in use (platform and SIMD, at
   the top) gives the micro-kernels of one instruction set (dst__gemm_isa),
   or none: the scalar reference.

   Memory and threads. dst_sgemm is safe to call from several threads at
   once: its packing buffers are its own. Problems whose blocks fit in
   DST__GEMM_STACK_FLOATS floats pack on the stack; larger ones allocate
   one block through DST_MALLOC for the call (528 KB at most) and
   free it, falling back to stack-sized blocks if the allocation fails.
   Inside a model the model's own buffer (DST__GEMM_PACK_FLOATS floats,
   allocated with the model) is used: a training step allocates nothing.
   The only shared state is the CPU-feature cache and the level set by
   dst_simd_force, both read and written atomically (platform and SIMD). */

#ifndef DST__GEMM_KC
#define DST__GEMM_KC 384  /* k per block: an 8 x KC panel of A is 12 KB of L1 */
#endif
#ifndef DST__GEMM_NC
/* columns of B per block, a multiple of every NR (8, 12, 16, 48): a KC x NC
   block of B (504 KB) fills about half of a 1 MB L2, which leaves room for
   the A panel and C, and keeps the packing buffer (one panel of A and this
   block of B) small; the values tried are in docs/BENCHMARKS.md. Rows of A
   need no block: the kernels pack A one panel at a time, so the panels go
   in order through the B block. */
#define DST__GEMM_NC 336
#endif
#ifndef DST__GEMM_DOT_L2_FLOATS
#define DST__GEMM_DOT_L2_FLOATS 131072 /* rows of B per block of the dot-product path: 512 KB */
#endif
/* the packing buffer: one panel of A (MR <= 8 rows) and a block of B */
#define DST__GEMM_PACK_FLOATS (DST__GEMM_KC * (8 + DST__GEMM_NC) + 16)
#define DST__GEMM_STACK_FLOATS 8192 /* 32 KB of stack at most */

/* ---- the scalar reference: the oracle of every other path ---- */

static void dst__sgemm_scalar(int trans_a, int trans_b, int m, int n, int k, float alpha,
                              const float *a, int lda, const float *b, int ldb,
                              float beta, float *c, int ldc)
{
    int i, j, p;
    for (i = 0; i < m; ++i) {
        for (j = 0; j < n; ++j) {
            float s = 0;
            for (p = 0; p < k; ++p) {
                float av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += av * bv;
            }
            c[(size_t)i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[(size_t)i * ldc + j]);
        }
    }
}

/* ---- kernel templates ----
   Written once over the vector vocabulary of the set named by DST__GISA,
   which each instantiation below defines (sse2, avx2, avx512, neon) and
   undefines after; DST__GV is its vector type, DST__GW its floats. Loops
   over the rows and vectors of a tile are unrolled by the lists DST__R
   (rows) and DST__C (vectors): the accumulators must be named variables to
   live in registers. */

#define DST__GV DST__VEC(DST__GISA)
#define DST__GW DST__VW(DST__GISA)

#define DST__R1(X, Y) X(0, Y)
#define DST__R2(X, Y) X(0, Y) X(1, Y)
#define DST__R4(X, Y) DST__R2(X, Y) X(2, Y) X(3, Y)
#define DST__R6(X, Y) DST__R4(X, Y) X(4, Y) X(5, Y)
#define DST__R8(X, Y) DST__R6(X, Y) X(6, Y) X(7, Y)
#define DST__C1(X, i) X(i, 0)
#define DST__C2(X, i) X(i, 0) X(i, 1)
#define DST__C3(X, i) X(i, 0) X(i, 1) X(i, 2)

/* rows of B ahead that the packing kernels fetch */
#define DST__GEMM_PF_B 8
#define DST__K_PF1(i, j) DST__PREFETCH(cp + j * DST__GW);
#define DST__K_PFB1(i, j) DST__PREFETCH_R(pb + (size_t)DST__GEMM_PF_B * bs + j * DST__GW);
#define DST__K_BSAVE(i, j) DST__VSTORE(DST__GISA, bo + j * DST__GW, b##j);
#define DST__K_ACC(i, COLS) COLS(DST__K_ACC1, i)
#define DST__K_ACC1(i, j) DST__GV c##i##_##j = DST__VZERO(DST__GISA);
#define DST__K_BDECL(i, j) DST__GV b##j;
#define DST__K_BLOAD(i, j) b##j = DST__VLOAD(DST__GISA, pb + j * DST__GW);
#define DST__K_ROW(i, COLS) { DST__GV a = DST__VSET1(DST__GISA, pa[i]); COLS(DST__K_FMA1, i) }
#define DST__K_AROW(i, COLS)                                                    \
    { float x_ = pa[(size_t)i * ae]; DST__GV a = DST__VSET1(DST__GISA, x_); ao[i] = x_; COLS(DST__K_FMA1, i) }
#define DST__K_CPF(R, NV, COLS)                                                 \
    if (pf < R) { /* C is needed at the end: fetch a row per step */            \
        COLS(DST__K_PF1, 0) DST__PREFETCH(cp + nr - 1);                         \
        cp += ldc; ++pf;                                                        \
    }
#define DST__K_FMA1(i, j) c##i##_##j = DST__VFMA(DST__GISA, a, b##j, c##i##_##j);
#define DST__K_PUT(i, COLS) COLS(DST__K_PUT1, i)
#define DST__K_PUT1(i, j)                                                       \
    DST__VSTORE(DST__GISA, c + (size_t)i * ldc + j * DST__GW, DST__VMUL(DST__GISA, va, c##i##_##j));
#define DST__K_UPD(i, COLS) COLS(DST__K_UPD1, i)
#define DST__K_UPD1(i, j)                                                       \
    { float *q_ = c + (size_t)i * ldc + j * DST__GW;                            \
      DST__GV u_ = DST__VMUL(DST__GISA, vb, DST__VLOAD(DST__GISA, q_));       \
      DST__VSTORE(DST__GISA, q_, DST__VFMA(DST__GISA, va, c##i##_##j, u_)); }
#define DST__K_TMP(i, COLS) COLS(DST__K_TMP1, i)
#define DST__K_TMP1(i, j) DST__VSTORE(DST__GISA, t + (i * NV_ + j) * DST__GW, c##i##_##j);

/* The micro-kernel: an R x (NV * W) tile, R rows listed by ROWS, NV
   vectors listed by COLS. pa: packed A, R values per step at stride MR;
   pb: B, NV vectors per step at stride bs (floats); nr <= NV * W
   columns of C are written. bo != NULL: B is read where it is stored, and
   the kernel also writes the packed panel there (NV vectors per step), for
   the kernels of the other rows to read: packing B costs no pass of its own.
   ao != NULL (R == MR only): pa is A where it is stored, and the kernel
   writes the packed panel to ao the same way. as > 0: A not transposed, row
   i of the panel at pa + i * as, steps contiguous; as < 0: A transposed, the
   R values of a step contiguous, steps -as apart.
   The C tile is prefetched row by row in the last 2 R steps: earlier, the
   B panel streaming through L1 would evict it again (and the addresses,
   kept in registers across the loop, made gcc spill a B vector to the
   stack in every step of the widest kernels). */
#define DST__GEMM_KERNEL(NAME, ATTR, R, ROWS, NV, COLS, MR)                     \
static ATTR void NAME(int kc, const float *pa, const float *pb, int bs,         \
                      float *c, int ldc, float alpha, float beta, int nr,       \
                      float *bo, int as, float *ao)                             \
{                                                                               \
    enum { NV_ = NV };                                                          \
    ROWS(DST__K_ACC, COLS)                                                      \
    COLS(DST__K_BDECL, 0)                                                       \
    int p = 0, pf = 0, tail = kc > 2 * R ? kc - 2 * R : 0;                      \
    const float *cp = c;                                                        \
    if (R == MR && ao) {                                                        \
        size_t ae = as > 0 ? (size_t)as : 1, ap = as > 0 ? 1 : (size_t)-as;     \
        for (; p < tail; ++p, pa += ap, ao += MR, pb += bs) {                   \
            COLS(DST__K_BLOAD, 0)                                               \
            ROWS(DST__K_AROW, COLS)                                             \
        }                                                                       \
        for (; p < kc; ++p, pa += ap, ao += MR, pb += bs) {                     \
            DST__K_CPF(R, NV, COLS)                                             \
            COLS(DST__K_BLOAD, 0)                                               \
            ROWS(DST__K_AROW, COLS)                                             \
        }                                                                       \
    }                                                                           \
    if (bo) {                                                                   \
        for (; p < tail; ++p, pa += MR, pb += bs, bo += NV * DST__GW) {         \
            COLS(DST__K_PFB1, 0)                                                \
            DST__PREFETCH_R(pb + (size_t)DST__GEMM_PF_B * bs + nr - 1);         \
            COLS(DST__K_BLOAD, 0)                                               \
            COLS(DST__K_BSAVE, 0)                                               \
            ROWS(DST__K_ROW, COLS)                                              \
        }                                                                       \
        for (; p < kc; ++p, pa += MR, pb += bs, bo += NV * DST__GW) {           \
            COLS(DST__K_BLOAD, 0)                                               \
            COLS(DST__K_BSAVE, 0)                                               \
            ROWS(DST__K_ROW, COLS)                                              \
        }                                                                       \
    }                                                                           \
    for (; p < tail; ++p, pa += MR, pb += bs) {                                 \
        COLS(DST__K_BLOAD, 0)                                                   \
        ROWS(DST__K_ROW, COLS)                                                  \
    }                                                                           \
    for (; p < kc; ++p, pa += MR, pb += bs) {                                   \
        DST__K_CPF(R, NV, COLS)                                                 \
        COLS(DST__K_BLOAD, 0)                                                   \
        ROWS(DST__K_ROW, COLS)                                                  \
    }                                                                           \
    if (nr == NV * DST__GW) {                                                   \
        DST__GV va = DST__VSET1(DST__GISA, alpha), vb = DST__VSET1(DST__GISA, beta); \
        if (beta == 0) { ROWS(DST__K_PUT, COLS) }                               \
        else { ROWS(DST__K_UPD, COLS) }                                         \
        (void)vb;                                                               \
    } else {                                                                    \
        float t[R * NV * DST__GW];                                              \
        ROWS(DST__K_TMP, COLS)                                                  \
        dst__gemm_tile_out(t, NV * DST__GW, R, nr, c, ldc, alpha, beta);        \
    }                                                                           \
}

/* The four row counts (MR, 4, 2, 1) times the vector counts 1..NVMAX,
   named dst__gemm_<rows>x<vectors>_<isa>: dst__gemm_8x3_avx512 ..
   dst__gemm_1x1_avx512, dst__gemm_6x2_avx2 .. dst__gemm_1x1_avx2,
   dst__gemm_6x2_sse2 .. dst__gemm_1x1_sse2, dst__gemm_8x3_neon ..
   dst__gemm_1x1_neon. */
#define DST__GEMM_KERNEL_ROWS(isa, ATTR, MR, NV, COLS)                          \
    DST__GEMM_KERNEL(dst__gemm_##MR##x##NV##_##isa, ATTR, MR, DST__R##MR, NV, COLS, MR) \
    DST__GEMM_KERNEL(dst__gemm_4x##NV##_##isa, ATTR, 4, DST__R4, NV, COLS, MR)  \
    DST__GEMM_KERNEL(dst__gemm_2x##NV##_##isa, ATTR, 2, DST__R2, NV, COLS, MR)  \
    DST__GEMM_KERNEL(dst__gemm_1x##NV##_##isa, ATTR, 1, DST__R1, NV, COLS, MR)
#define DST__GEMM_KERNELS_NV2(isa, ATTR, MR)                                    \
    DST__GEMM_KERNEL_ROWS(isa, ATTR, MR, 1, DST__C1)                            \
    DST__GEMM_KERNEL_ROWS(isa, ATTR, MR, 2, DST__C2)
#define DST__GEMM_KERNELS_NV3(isa, ATTR, MR)                                    \
    DST__GEMM_KERNELS_NV2(isa, ATTR, MR)                                        \
    DST__GEMM_KERNEL_ROWS(isa, ATTR, MR, 3, DST__C3)
#define DST__GEMM_TABLE_NV2(isa, MR)                                            \
    { { dst__gemm_##MR##x1_##isa, dst__gemm_##MR##x2_##isa, NULL },             \
      { dst__gemm_4x1_##isa, dst__gemm_4x2_##isa, NULL },                       \
      { dst__gemm_2x1_##isa, dst__gemm_2x2_##isa, NULL },                       \
      { dst__gemm_1x1_##isa, dst__gemm_1x2_##isa, NULL } }
#define DST__GEMM_TABLE_NV3(isa, MR)                                            \
    { { dst__gemm_##MR##x1_##isa, dst__gemm_##MR##x2_##isa, dst__gemm_##MR##x3_##isa }, \
      { dst__gemm_4x1_##isa, dst__gemm_4x2_##isa, dst__gemm_4x3_##isa },        \
      { dst__gemm_2x1_##isa, dst__gemm_2x2_##isa, dst__gemm_2x3_##isa },        \
      { dst__gemm_1x1_##isa, dst__gemm_1x2_##isa, dst__gemm_1x3_##isa } }

/* The dot-product kernel for trans_a == 0, trans_b == 1 without packing: an
   RA x RB tile of C, C[i][j] = alpha * (row i of A . row j of B) + beta * C[i][j],
   one accumulator per pair; the k % W tail is added in scalar after the
   lanes are summed. RA rows of A listed by IS, RB rows of B by JS. */
#define DST__I1(X, Y) X(0, Y)
#define DST__I2(X, Y) X(0, Y) X(1, Y)
#define DST__I4(X, Y) X(0, Y) X(1, Y) X(2, Y) X(3, Y)
#define DST__J1(X, Y) X(Y, 0)
#define DST__J4(X, Y) X(Y, 0) X(Y, 1) X(Y, 2) X(Y, 3)
#define DST__J8(X, Y) DST__J4(X, Y) X(Y, 4) X(Y, 5) X(Y, 6) X(Y, 7)
#define DST__D_ACC(i, JS) JS(DST__D_ACC1, i)
#define DST__D_ACC1(i, j) DST__GV s##i##_##j = DST__VZERO(DST__GISA);
#define DST__D_ADECL(i, u) DST__GV x##i;
#define DST__D_ALOAD(i, u) x##i = DST__VLOAD(DST__GISA, a + (size_t)i * lda + p);
#define DST__D_COL(IS, j) { DST__GV y = DST__VLOAD(DST__GISA, b + (size_t)j * ldb + p); IS(DST__D_FMA1, j) }
#define DST__D_FMA1(i, j) s##i##_##j = DST__VFMA(DST__GISA, x##i, y, s##i##_##j);
#define DST__D_OUT(i, JS) JS(DST__D_OUT1, i)
#define DST__D_OUT1(i, j)                                                       \
    { const float *ai_ = a + (size_t)i * lda, *bj_ = b + (size_t)j * ldb;       \
      float *ci_ = c + (size_t)i * ldc + j, s_ = DST__VHSUM(DST__GISA, s##i##_##j); \
      int q_;                                                                   \
      for (q_ = p; q_ < k; ++q_) s_ += ai_[q_] * bj_[q_];                       \
      *ci_ = alpha * s_ + (beta == 0 ? 0.0f : beta * *ci_); }

#define DST__GEMM_DOT(NAME, ATTR, IS, JS)                                       \
static ATTR void NAME(int k, const float *a, int lda, const float *b, int ldb,  \
                      float *c, int ldc, float alpha, float beta)               \
{                                                                               \
    IS(DST__D_ACC, JS)                                                          \
    IS(DST__D_ADECL, 0)                                                         \
    int p;                                                                      \
    for (p = 0; p + DST__GW <= k; p += DST__GW) {                               \
        IS(DST__D_ALOAD, 0)                                                     \
        JS(DST__D_COL, IS)                                                      \
    }                                                                           \
    IS(DST__D_OUT, JS)                                                          \
}
/* tiles RA x 4, RA x 1, and for single rows (a matrix-vector product: more
   rows of B in flight hide more latency) 1 x 8, 1 x 1, named
   dst__gemm_dot<rows of A>x<rows of B>_<isa>: dst__gemm_dot4x4_avx512,
   _dot4x1_avx512, _dot1x8_avx512, _dot1x1_avx512; dst__gemm_dot2x4_avx2,
   ..; dst__gemm_dot2x4_sse2, ..; dst__gemm_dot4x4_neon, .. */
#define DST__GEMM_DOTS(isa, ATTR, RA)                                           \
    DST__GEMM_DOT(dst__gemm_dot##RA##x4_##isa, ATTR, DST__I##RA, DST__J4)       \
    DST__GEMM_DOT(dst__gemm_dot##RA##x1_##isa, ATTR, DST__I##RA, DST__J1)       \
    DST__GEMM_DOT(dst__gemm_dot1x8_##isa, ATTR, DST__I1, DST__J8)               \
    DST__GEMM_DOT(dst__gemm_dot1x1_##isa, ATTR, DST__I1, DST__J1)
#define DST__GEMM_DOT_TABLE(isa, RA)                                            \
    { { dst__gemm_dot##RA##x4_##isa, dst__gemm_dot##RA##x1_##isa },             \
      { dst__gemm_dot1x8_##isa, dst__gemm_dot1x1_##isa } }

typedef void (*dst__gemm_kernel_fn)(int kc, const float *pa, const float *pb, int bs,
                                    float *c, int ldc, float alpha, float beta, int nr,
                                    float *bo, int as, float *ao);
typedef void (*dst__gemm_dot_fn)(int k, const float *a, int lda, const float *b, int ldb,
                                 float *c, int ldc, float alpha, float beta);

/* One instruction set's GEMM: micro-tile MR x (NVMAX * W); kernels by rows
   (MR, 4, 2, 1) and vectors (1 .. NVMAX); dot kernels by tile (RA or 1
   rows of A) x (4 or 1 rows of B), 1 x (8 or 1); an 8 x 8 transpose for packing B^T
   (NULL: plain loops). */
typedef void (*dst__gemm_transpose_fn)(const float *src, size_t lds, float *dst, size_t ldd);
struct dst__gemm_isa {
    dst_simd level;
    int mr, w, nvmax, ra;
    int dot_k_per_row; /* > 0: the dot path also when k >= this * m (0: never) */
    dst__gemm_kernel_fn kernel[4][3];
    dst__gemm_dot_fn dot[2][2];
    dst__gemm_transpose_fn transpose8;
};

#if defined(DST__SIMD_ANY)
/* The edge of a tile: t holds rows x ld accumulators, nr of each row go to C.
   Kept out of line: inlined, gcc 12 -O3 -march=native takes the vector
   stores that fill t for no stores and warns "may be used uninitialized". */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void dst__gemm_tile_out(const float *t, int ld, int rows, int nr, float *c, int ldc,
                               float alpha, float beta)
{
    int i, j;
    for (i = 0; i < rows; ++i, t += ld, c += ldc)
        for (j = 0; j < nr; ++j)
            c[j] = alpha * t[j] + (beta == 0 ? 0.0f : beta * c[j]);
}

#endif

#if defined(DST__SIMD_X86)
/* AVX-512F: 8 x 48 tiles, 4 x 4 dot tiles */
#define DST__GISA avx512
DST__GEMM_KERNELS_NV3(avx512, DST__VATTR(avx512), 8)
DST__GEMM_DOTS(avx512, DST__VATTR(avx512), 4)
#undef DST__GISA

/* AVX2 + FMA: 6 x 16 tiles, 2 x 4 dot tiles */
#define DST__GISA avx2
DST__GEMM_KERNELS_NV2(avx2, DST__VATTR(avx2), 6)
DST__GEMM_DOTS(avx2, DST__VATTR(avx2), 2)
#undef DST__GISA

/* SSE2 (every x86-64): 6 x 8 tiles, 2 x 4 dot tiles; no FMA instruction */
#define DST__GISA sse2
DST__GEMM_KERNELS_NV2(sse2, DST__VATTR(sse2), 6)
DST__GEMM_DOTS(sse2, DST__VATTR(sse2), 2)
#undef DST__GISA

/* dst[q][r] = src[r][q] for an 8 x 8 block (packing B^T): unpack pairs of
   rows, shuffle quads, swap 128-bit halves. AVX instructions only; the
   AVX2 and AVX-512 levels use it. */
static DST__TARGET("avx") void dst__transpose8_avx2(const float *src, size_t lds, float *dst, size_t ldd)
{
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds);
    __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
    __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
    __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

static const dst__gemm_isa dst__gemm_avx512 = {
    DST_SIMD_AVX512, 8, 16, 3, 4, 12, DST__GEMM_TABLE_NV3(avx512, 8), DST__GEMM_DOT_TABLE(avx512, 4), dst__transpose8_avx2
};
static const dst__gemm_isa dst__gemm_avx2 = {
    DST_SIMD_AVX2, 6, 8, 2, 2, 0, DST__GEMM_TABLE_NV2(avx2, 6), DST__GEMM_DOT_TABLE(avx2, 2), dst__transpose8_avx2
};
static const dst__gemm_isa dst__gemm_sse2 = {
    DST_SIMD_SSE2, 6, 4, 2, 2, 0, DST__GEMM_TABLE_NV2(sse2, 6), DST__GEMM_DOT_TABLE(sse2, 2), NULL
};
#endif /* DST__SIMD_X86 */

#if defined(DST__SIMD_NEON)
/* NEON (AArch64): 8 x 12 tiles, 4 x 4 dot tiles */
#define DST__GISA neon
DST__GEMM_KERNELS_NV3(neon, DST__VATTR(neon), 8)
DST__GEMM_DOTS(neon, DST__VATTR(neon), 4)
#undef DST__GISA

static const dst__gemm_isa dst__gemm_neon = {
    DST_SIMD_NEON, 8, 4, 3, 4, 0, DST__GEMM_TABLE_NV3(neon, 8), DST__GEMM_DOT_TABLE(neon, 4), NULL
};
#endif /* DST__SIMD_NEON */

#if defined(DST__SIMD_ANY)
/* ---- packing ---- */

/* op(A)[i0 .. i0+mc) x [p0 .. p0+kc) into panels of mr rows: panel r holds,
   for each p, the mr values of its rows (a short last panel is not padded:
   its kernels read only its rows). */
static void dst__gemm_pack_a(const dst__gemm_isa *isa, int trans_a, const float *a, int lda, int i0,
                             int p0, int mc, int kc, float *dst)
{
    int mr = isa->mr, ir, r, p;
    for (ir = 0; ir < mc; ir += mr, dst += (size_t)mr * kc) {
        int rows = mc - ir < mr ? mc - ir : mr;
        if (!trans_a) {
            p = 0;
            if (rows == 8 && isa->transpose8) /* 8 rows by 8 columns at a time */
                for (; p + 8 <= kc; p += 8)
                    isa->transpose8(a + (size_t)(i0 + ir) * lda + p0 + p, (size_t)lda,
                                    dst + (size_t)p * 8, 8);
            for (r = 0; r < rows; ++r) {
                const float *src = a + (size_t)(i0 + ir + r) * lda + p0;
                int q;
                for (q = p; q < kc; ++q) dst[(size_t)q * mr + r] = src[q];
            }
        } else {
            for (p = 0; p < kc; ++p) {
                const float *src = a + (size_t)(p0 + p) * lda + i0 + ir;
                for (r = 0; r < rows; ++r) dst[(size_t)p * mr + r] = src[r];
            }
        }
    }
}

/* op(B)[p0 .. p0+kc) x [j0 .. j0+nc) into panels nr wide: for each p the
   panel's columns, contiguous. The last panel is as wide as its columns
   rounded up to whole vectors of w, the padding zero. B stored transposed
   goes through 8 x 8 transposes where the instruction set has one. */
static void dst__gemm_pack_b(const dst__gemm_isa *isa, int trans_b, const float *b, int ldb, int p0,
                             int j0, int kc, int nc, float *dst)
{
    int nr = isa->nvmax * isa->w, w = isa->w, jr, j, p, pp;
    for (jr = 0; jr < nc; jr += nr) {
        int cols = nc - jr < nr ? nc - jr : nr;
        int ld = cols == nr ? nr : (cols + w - 1) / w * w;
        if (!trans_b) {
            for (p = 0; p < kc; ++p) {
                const float *src = b + (size_t)(p0 + p) * ldb + j0 + jr;
                float *d = dst + (size_t)p * ld;
                memcpy(d, src, (size_t)cols * sizeof(float));
                for (j = cols; j < ld; ++j) d[j] = 0;
            }
        } else {
            /* 8 x 8 transposes, 8 rows of B^T at a time along all of kc (8
               streams for the prefetchers, not 48), then the rest by scalars:
               columns jt.. for every p, and the first jt columns from pt on */
            int jt = 0, pt = 0;
            if (isa->transpose8 && kc >= 8) {
                pt = kc / 8 * 8;
                for (; jt + 8 <= cols; jt += 8) {
                    const float *src = b + (size_t)(j0 + jr + jt) * ldb + p0;
                    for (pp = 0; pp < pt; pp += 8) {
                        if (!(pp & 15) && pp + 128 < pt) { /* a line of each row, 8 ahead */
                            int r;
                            for (r = 0; r < 8; ++r) DST__PREFETCH_R(src + (size_t)r * ldb + pp + 128);
                        }
                        isa->transpose8(src + pp, (size_t)ldb, dst + (size_t)pp * ld + jt, (size_t)ld);
                    }
                }
            }
            for (j = 0; j < ld; ++j) {
                p = j < jt ? pt : 0;
                if (j < cols) {
                    const float *src = b + (size_t)(j0 + jr + j) * ldb + p0;
                    for (; p < kc; ++p) dst[(size_t)p * ld + j] = src[p];
                } else {
                    for (; p < kc; ++p) dst[(size_t)p * ld + j] = 0;
                }
            }
        }
        dst += (size_t)ld * kc;
    }
}

/* ---- the drivers ---- */

/* B is read in place, not packed, when it is not transposed and m is at
   most this: so few rows of A cannot repay packing B (the threshold is
   chosen with bench/bench_gemm.c, docs/BENCHMARKS.md) */
#ifndef DST__GEMM_DIRECT_B_M
#define DST__GEMM_DIRECT_B_M 32
#endif

/* Block sizes for this problem that fit a buffer of cap floats (one panel
   of A, MR x KC, and a block of B, KC x NC): the defaults, shrunk first in
   k, then in n. Returns the floats used. */
static size_t dst__gemm_blocks(const dst__gemm_isa *isa, int n, int k, size_t cap, int *kcb, int *ncb)
{
    int mr = isa->mr, nr = isa->nvmax * isa->w;
    /* split k and n into equal blocks no larger than KC and NC (1024 in
       blocks of 342, not 480 + 480 + 64) */
    int kparts = (k + DST__GEMM_KC - 1) / DST__GEMM_KC, nparts = (n + DST__GEMM_NC - 1) / DST__GEMM_NC;
    int kb = (k + kparts - 1) / kparts;
    int nb = ((n + nparts - 1) / nparts + nr - 1) / nr * nr;
    if (nb > DST__GEMM_NC) nb = DST__GEMM_NC;
    while ((size_t)kb * (mr + nb) + 16 > cap) {
        if (kb > 64) kb /= 2;
        else if (nb > nr) nb -= nr;
        else if (kb > 1) kb /= 2;
        else break;
    }
    *kcb = kb; *ncb = nb;
    return (size_t)kb * (mr + nb) + 16;
}

/* The blocked GEMM with packing buffer buf of cap floats (64-byte aligned). */
static void dst__gemm_blocked(const dst__gemm_isa *isa, int trans_a, int trans_b, int m, int n,
                              int k, float alpha, const float *a, int lda, const float *b, int ldb,
                              float beta, float *c, int ldc, float *buf, size_t cap)
{
    int mr = isa->mr, nr = isa->nvmax * isa->w;
    int kcb, ncb, jc, pc, ir, jr;
    size_t a_floats;
    float *pa_block, *pb_block;
    size_t need = dst__gemm_blocks(isa, n, k, cap, &kcb, &ncb);
    DST_ASSERT(need <= cap);
    (void)need;
    a_floats = ((size_t)kcb * mr + 15) / 16 * 16; /* one panel of A at a time */
    pa_block = buf;
    pb_block = buf + a_floats;
    for (jc = 0; jc < n; jc += ncb) {
        int nc = n - jc < ncb ? n - jc : ncb;
        for (pc = 0; pc < k; pc += kcb) {
            int kc = k - pc < kcb ? k - pc : kcb;
            float beta_pc = pc == 0 ? beta : 1.0f;
            /* B as stored, when the kernels can read it so: only a last
               panel narrower than NR is packed (zero-padded to whole vectors) */
            int direct = !trans_b && m <= DST__GEMM_DIRECT_B_M, direct_cols = direct ? nc / nr * nr : 0;
            /* B as stored, for more rows: the kernels of the first panel of
               A read it in place and pack it as they go (all but a last
               panel narrower than NR, packed here) */
            int fused_cols = !trans_b && !direct ? nc / nr * nr : 0;
            if (direct_cols < nc)
                dst__gemm_pack_b(isa, trans_b, b, ldb, pc, jc + direct_cols + fused_cols, kc,
                                 nc - direct_cols - fused_cols, pb_block + (size_t)fused_cols * kc);
            for (ir = 0; ir < m; ir += mr) { /* the panels of A, one at a time */
                float *pa_panel = pa_block;
                int rows = m - ir < mr ? m - ir : mr;
                const float *pb = pb_block;
                /* A as stored, a whole panel: the kernel of its first
                   tile reads it in place and packs it for the next tiles
                   (unless that kernel packs B) */
                int fuse_a = rows == mr && !(ir == 0 && fused_cols > 0);
                if (!fuse_a)
                    dst__gemm_pack_a(isa, trans_a, a, lda, ir, pc, rows, kc, pa_panel);
                for (jr = 0; jr < nc; jr += nr) {
                    int cols = nc - jr < nr ? nc - jr : nr;
                    int nv = (cols + isa->w - 1) / isa->w, bs = nv * isa->w, as = 0;
                    float *ct = c + (size_t)ir * ldc + jc + jr;
                    const float *pbj = pb, *pa = pa_panel;
                    float *bo = NULL, *ao = NULL;
                    if (fuse_a && jr == 0) {
                        pa = trans_a ? a + (size_t)pc * lda + ir : a + (size_t)ir * lda + pc;
                        as = trans_a ? -lda : lda;
                        ao = pa_panel;
                    }
                    if (jr < direct_cols) {
                        pbj = b + (size_t)pc * ldb + jc + jr;
                        bs = ldb;
                    } else {
                        if (ir == 0 && jr < fused_cols) {
                            pbj = b + (size_t)pc * ldb + jc + jr;
                            bo = pb_block + (size_t)jr * kc;
                            bs = ldb;
                        }
                        pb += (size_t)nv * isa->w * kc;
                    }
                    if (rows == mr) {
                        isa->kernel[0][nv - 1](kc, pa, pbj, bs, ct, ldc, alpha, beta_pc, cols, bo, as, ao);
                    } else { /* a short panel: 4 + 2 + 1 rows as it needs (the
                                first packs B, the others read it in place) */
                        int r0 = 0, t, sizes[3] = { 4, 2, 1 };
                        for (t = 0; t < 3; ++t)
                            if (rows & sizes[t]) {
                                isa->kernel[t + 1][nv - 1](kc, pa + r0, pbj, bs, ct + (size_t)r0 * ldc,
                                                           ldc, alpha, beta_pc, cols, bo, 0, NULL);
                                r0 += sizes[t];
                                bo = NULL;
                            }
                    }
                }
            }
        }
    }
}

/* The dot-product path (trans_a == 0, trans_b == 1, no packing). */
static void dst__gemm_dot(const dst__gemm_isa *isa, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, float beta,
                          float *c, int ldc)
{
    /* rows of B in blocks of about DST__GEMM_DOT_L2_FLOATS, so that every
       tile of rows of A finds them in L2 */
    int ra = isa->ra, i, j, t, jb, jn = DST__GEMM_DOT_L2_FLOATS / (k > 1 ? k : 1) / 8 * 8;
    if (jn < 8) jn = 8;
    for (jb = 0; jb < n; jb += jn) {
        int jend = n - jb < jn ? n : jb + jn;
        for (i = 0; i < m; i += t) {
            int tile = m - i >= ra ? 0 : 1; /* ra rows of A x 4 rows of B, or 1 x 8 */
            int step = tile == 0 ? 4 : 8;
            const float *ai = a + (size_t)i * lda;
            float *ci = c + (size_t)i * ldc;
            t = tile == 0 ? ra : 1;
            for (j = jb; j + step <= jend; j += step)
                isa->dot[tile][0](k, ai, lda, b + (size_t)j * ldb, ldb, ci + j, ldc, alpha, beta);
            for (; j < jend; ++j)
                isa->dot[tile][1](k, ai, lda, b + (size_t)j * ldb, ldb, ci + j, ldc, alpha, beta);
        }
    }
}
#endif /* DST__SIMD_ANY */

/* The dot-product path is used for trans_a == 0, trans_b == 1 when
   m <= DST__GEMM_DOT_M or n <= DST__GEMM_DOT_N, and with AVX-512 also when
   k >= 12 m: with few rows of A and long rows, reducing each dot product
   costs less than packing B^T; with more rows, packing wins. The AVX2 2 x 4
   tiles lose to packing everywhere. Measurements: docs/BENCHMARKS.md. */
#define DST__GEMM_DOT_M 4
#define DST__GEMM_DOT_N 16
/* Blocks of C handed to threads: rows in multiples of MR (the blocked
   path) or of 16 (the dot path's row tiles are 1, 2 or 4), so a block's
   elements take the kernels and the k blocking they take in one piece;
   the blocked path's columns in its NC blocks. A block is the same arithmetic on any thread, so the result
   has the same bits for any thread count, and as dst_sgemm. */
#define DST__GEMM_ROW_BLOCK 64 /* the dot and scalar paths */

typedef struct dst__gemm_job {
    const struct dst__gemm_isa *isa;   /* NULL: the scalar reference */
    int dot;                           /* the dot-product path */
    int trans_a, trans_b, m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int rows, cols, col_blocks;        /* block size in C, blocks across */
    float *const *packs;               /* a packing buffer per worker, cap floats each */
    size_t cap;
} dst__gemm_job;

static void dst__gemm_block(void *ctx, int block, int worker)
{
    const dst__gemm_job *g = (const dst__gemm_job *)ctx;
    int i0 = block / g->col_blocks * g->rows, j0 = block % g->col_blocks * g->cols;
    int m = g->m - i0 < g->rows ? g->m - i0 : g->rows, n = g->n - j0 < g->cols ? g->n - j0 : g->cols;
    const float *a = g->trans_a ? g->a + i0 : g->a + (size_t)i0 * g->lda;
    const float *b = g->trans_b ? g->b + (size_t)j0 * g->ldb : g->b + j0;
    float *c = g->c + (size_t)i0 * g->ldc + j0;
#if defined(DST__SIMD_ANY)
    if (g->isa && g->dot) {
        dst__gemm_dot(g->isa, m, n, g->k, g->alpha, a, g->lda, b, g->ldb, g->beta, c, g->ldc);
        return;
    }
    if (g->isa) {
        dst__gemm_blocked(g->isa, g->trans_a, g->trans_b, m, n, g->k, g->alpha, a, g->lda, b, g->ldb, g->beta, c,
                          g->ldc, g->packs[worker], g->cap);
        return;
    }
#endif
    (void)worker;
    dst__sgemm_scalar(g->trans_a, g->trans_b, m, n, g->k, g->alpha, a, g->lda, b, g->ldb, g->beta, c, g->ldc);
}

/* Every GEMM goes through here. packs: npacks packing buffers of cap
   floats, 64-byte aligned (a model's), or NULL to use the stack or
   temporary allocations. threads: NULL for the calling thread. */
static void dst__sgemm_run(const dst_threads *threads, int trans_a, int trans_b, int m, int n, int k, float alpha,
                           const float *a, int lda, const float *b, int ldb, float beta,
                           float *c, int ldc, float *const *packs, int npacks, size_t cap)
{
    dst__gemm_job g;
    float *heap = NULL;
    int blocks, workers;
#if defined(DST__SIMD_ANY)
    float stack[DST__GEMM_STACK_FLOATS + 16], *mine[DST__MAX_WORKERS];
    int w;
#endif
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0) { /* C = beta * C, A and B not read */
        int i, j;
        for (i = 0; i < m; ++i) {
            float *ci = c + (size_t)i * ldc;
            if (beta == 0) for (j = 0; j < n; ++j) ci[j] = 0;
            else if (beta != 1) for (j = 0; j < n; ++j) ci[j] *= beta;
        }
        return;
    }
    memset(&g, 0, sizeof g);
    g.trans_a = trans_a; g.trans_b = trans_b; g.m = m; g.n = n; g.k = k;
    g.lda = lda; g.ldb = ldb; g.ldc = ldc; g.alpha = alpha; g.beta = beta;
    g.a = a; g.b = b; g.c = c;
    g.rows = DST__GEMM_ROW_BLOCK; g.cols = n;
#if defined(DST__SIMD_ANY)
    g.isa = dst__kern()->gemm;
    if (g.isa && !trans_a && trans_b &&
        (m <= DST__GEMM_DOT_M || n <= DST__GEMM_DOT_N ||
         (g.isa->dot_k_per_row > 0 && (double)k >= (double)g.isa->dot_k_per_row * m)))
        g.dot = 1;
    if (g.isa && !g.dot) {
        int kcb, col_blocks, row_blocks, most;
        size_t need = dst__gemm_blocks(g.isa, n, k, packs ? cap : (size_t)-1, &kcb, &g.cols);
        /* Rows are cut by the workers, not by the shape alone, and may be:
           a block's rows start at a multiple of MR and each of its elements
           is summed over k exactly as in the whole product, so the cut does
           not change the bits. One row block per worker (at least 4 MR
           rows): each block packs its own B. */
        col_blocks = (n + g.cols - 1) / g.cols;
        most = (m + 4 * g.isa->mr - 1) / (4 * g.isa->mr);
        row_blocks = dst__par_workers_for(threads, most * col_blocks, (double)m * n * k / ((double)most * col_blocks),
                                          packs ? npacks : (int)(sizeof mine / sizeof mine[0]));
        row_blocks = (row_blocks + col_blocks - 1) / col_blocks;
        g.rows = ((m + row_blocks - 1) / row_blocks + g.isa->mr - 1) / g.isa->mr * g.isa->mr;
        if (!packs) { /* the call's own: one per worker, or one on the stack */
            cap = need;
            npacks = dst__par_workers_for(threads, ((m + g.rows - 1) / g.rows) * col_blocks, (double)g.rows * g.cols * k,
                                          (int)(sizeof mine / sizeof mine[0]));
            if (npacks > 1 || need > DST__GEMM_STACK_FLOATS)
                heap = (float *)dst__alloc_aligned((size_t)npacks * need * sizeof(float), NULL);
            if (!heap) {
                npacks = 1;
                if (need > DST__GEMM_STACK_FLOATS) { /* no memory: smaller blocks on the stack */
                    cap = DST__GEMM_STACK_FLOATS;
                    dst__gemm_blocks(g.isa, n, k, cap, &kcb, &g.cols);
                }
                mine[0] = stack + ((16 - ((uintptr_t)stack >> 2)) & 15); /* 64-byte aligned */
            }
            for (w = 0; heap && w < npacks; ++w) mine[w] = heap + (size_t)w * need;
            packs = mine;
        }
    }
#endif
    if (!packs) npacks = DST__MAX_WORKERS; /* the dot and scalar paths need none */
    g.packs = packs;
    g.cap = cap;
    g.col_blocks = (n + g.cols - 1) / g.cols;
    blocks = ((m + g.rows - 1) / g.rows) * g.col_blocks;
    workers = dst__par_workers_for(threads, blocks, (double)g.rows * g.cols * k, npacks);
    dst__par_for(threads, workers, blocks, dst__gemm_block, &g);
    dst__free_aligned(heap, NULL);
}

/* invalid arguments: nothing is done (the contract has no result code) */
static int dst__sgemm_args_ok(int trans_a, int trans_b, int m, int n, int k, float alpha,
                              const float *a, int lda, const float *b, int ldb, const float *c, int ldc)
{
    int cols_a = trans_a ? m : k, cols_b = trans_b ? k : n;
    if (m < 0 || n < 0 || k < 0 || m == 0 || n == 0) return 0;
    if (!c || ldc < n) return 0;
    if (k > 0 && alpha != 0 && (!a || !b || lda < (cols_a > 1 ? cols_a : 1) || ldb < (cols_b > 1 ? cols_b : 1)))
        return 0;
    return 1;
}

DSTDEF void dst_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb,
                      float beta, float *c, int ldc)
{
    if (dst__sgemm_args_ok(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc))
        dst__sgemm_run(NULL, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL, 0, 0);
}

DSTDEF void dst_sgemm_threaded(const dst_threads *threads, int trans_a, int trans_b, int m, int n, int k,
                               float alpha, const float *a, int lda, const float *b, int ldb,
                               float beta, float *c, int ldc)
{
    if (dst__sgemm_args_ok(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc))
        dst__sgemm_run(threads, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL, 0, 0);
}

/* ==== softmax and losses ========================================= >>loss */

DSTDEF void dst_softmax(const float *logits, float *probs, int rows, int cols, float temperature)
{
    int i, j;
    if (!logits || !probs || rows < 1 || cols < 1 || !(temperature > 0) || !dst__finite(temperature)) return;
    for (i = 0; i < rows; ++i) {
        const float *z = logits + (size_t)i * cols;
        float *p = probs + (size_t)i * cols;
        float inv_t = 1.0f / temperature, mx = z[0] * inv_t;
        double sum = 0;
        float inv;
        for (j = 1; j < cols; ++j) if (z[j] * inv_t > mx) mx = z[j] * inv_t;
        for (j = 0; j < cols; ++j) {
            p[j] = expf(z[j] * inv_t - mx);
            sum += (double)p[j];
        }
        inv = (float)(1.0 / sum);
        for (j = 0; j < cols; ++j) p[j] *= inv;
    }
}

/* exp(z[j] / T - max) into e (shifted: every value in (0, 1], no overflow
   whatever the logits), returning their sum in double and the max in *mx. */
static double dst__exp_row(const float *z, float *e, int cols, float inv_t, float *mx)
{
    int j;
    float m = z[0] * inv_t;
    double sum = 0;
    for (j = 1; j < cols; ++j) if (z[j] * inv_t > m) m = z[j] * inv_t;
    for (j = 0; j < cols; ++j) {
        e[j] = expf(z[j] * inv_t - m);
        sum += (double)e[j];
    }
    *mx = m;
    return sum;
}

/* The soft term per row: T^2 KL(p_t || p_s) at temperature T, with its
   gradient T (p_s - p_t) scaled by w; the hard term: CE with gradient
   (p - onehot) scaled by w. Both accumulate into g when g is not NULL.
   One exponential per logit: p = e / sum, log p = z / T - max - log(sum). */
static double dst__kd_soft_row(const float *s, const float *t, int cols, float temperature,
                               float w, float *g, float *e_s, float *e_t)
{
    int j;
    double kl = 0, sum_s, sum_t, lse_s, lse_t, inv_sum_s, inv_sum_t;
    float inv_t = 1.0f / temperature, mx_s, mx_t, wt = w * temperature;
    sum_s = dst__exp_row(s, e_s, cols, inv_t, &mx_s);
    sum_t = dst__exp_row(t, e_t, cols, inv_t, &mx_t);
    lse_s = (double)mx_s + log(sum_s);
    lse_t = (double)mx_t + log(sum_t);
    inv_sum_s = 1.0 / sum_s;
    inv_sum_t = 1.0 / sum_t;
    for (j = 0; j < cols; ++j) {
        double pt = (double)e_t[j] * inv_sum_t;
        if (pt > 0) kl += pt * (((double)(t[j] * inv_t) - lse_t) - ((double)(s[j] * inv_t) - lse_s));
        if (g) g[j] += wt * (float)((double)e_s[j] * inv_sum_s - pt);
    }
    return kl * (double)temperature * (double)temperature;
}

static double dst__ce_row(const float *s, int label, int cols, float w, float *g, float *e)
{
    int j;
    float mx;
    double sum = dst__exp_row(s, e, cols, 1.0f, &mx);
    if (g) {
        float ws = (float)((double)w / sum);
        for (j = 0; j < cols; ++j) g[j] += ws * e[j];
        g[label] -= w;
    }
    return log(sum) - (double)(s[label] - mx);
}

/* Mixup's second labels and weights (dst_kd_loss_mixup), or none. */
typedef struct dst__mix {
    const int   *labels_b;
    const float *lambda;
} dst__mix;

/* The whole loss over rows, with scratch rows supplied (2 * cols floats);
   mix NULL: every lambda 1. */
static float dst__kd_loss_scratch(const float *s, const float *t, const int *labels, const dst__mix *mix,
                                  int rows, int cols, float temperature, float alpha, float *grad, float *scratch)
{
    int i;
    double total = 0;
    if (grad) memset(grad, 0, (size_t)rows * cols * sizeof(float));
    for (i = 0; i < rows; ++i) {
        const float *si = s + (size_t)i * cols;
        float *gi = grad ? grad + (size_t)i * cols : NULL;
        float w_soft, w_hard; /* this row's: an unlabelled row has the soft term alone */
        if (!t) { w_soft = 0; w_hard = 1; }
        else if (!labels || labels[i] == DST_NO_LABEL) { w_soft = 1; w_hard = 0; }
        else { w_soft = alpha; w_hard = 1 - alpha; }
        if (w_soft != 0)
            total += (double)w_soft * dst__kd_soft_row(si, t + (size_t)i * cols, cols, temperature,
                                               w_soft / rows, gi, scratch, scratch + cols);
        if (w_hard != 0) {
            float lam = mix ? mix->lambda[i] : 1, rest = 1 - lam;
            total += (double)w_hard * (double)lam * dst__ce_row(si, labels[i], cols, w_hard * lam / rows, gi, scratch);
            if (rest != 0)
                total += (double)w_hard * (double)rest * dst__ce_row(si, mix->labels_b[i], cols, w_hard * rest / rows, gi, scratch);
        }
    }
    return (float)(total / rows);
}

static int dst__kd_args_ok(const float *s, const float *t, const int *labels, int rows, int cols,
                           float temperature, float alpha)
{
    int i;
    if (!s || (!t && !labels) || rows < 1 || cols < 1) return 0;
    if (t && !(temperature > 0 && dst__finite(temperature))) return 0;
    if (t && labels && !(alpha >= 0 && alpha <= 1)) return 0;
    if (labels)
        for (i = 0; i < rows; ++i)
            if ((labels[i] < 0 || labels[i] >= cols) && !(t && labels[i] == DST_NO_LABEL)) return 0;
    return 1;
}

/* dst_kd_loss and dst_kd_loss_mixup, arguments checked. */
static float dst__kd_loss_alloc(const float *s, const float *t, const int *labels, const dst__mix *mix, int rows,
                                int cols, float temperature, float alpha, float *grad)
{
    float stack[512], *scratch = stack, loss;
    if (cols > 256) {
        scratch = (float *)DST_MALLOC(2 * (size_t)cols * sizeof(float), NULL);
        if (!scratch) return (float)NAN;
    }
    loss = dst__kd_loss_scratch(s, t, labels, mix, rows, cols, temperature, alpha, grad, scratch);
    if (scratch != stack) DST_FREE(scratch, NULL);
    return loss;
}

DSTDEF float dst_kd_loss(const float *student_logits, const float *teacher_logits, const int *labels,
                         int rows, int cols, float temperature, float alpha, float *grad)
{
    if (!dst__kd_args_ok(student_logits, teacher_logits, labels, rows, cols, temperature, alpha))
        return (float)NAN;
    return dst__kd_loss_alloc(student_logits, teacher_logits, labels, NULL, rows, cols, temperature, alpha, grad);
}

DSTDEF float dst_kd_loss_mixup(const float *student_logits, const float *teacher_logits, const int *labels,
                               const int *labels_b, const float *lambda, int rows, int cols,
                               float temperature, float alpha, float *grad)
{
    dst__mix mix;
    int i;
    if (!labels || !labels_b || !lambda ||
        !dst__kd_args_ok(student_logits, teacher_logits, labels, rows, cols, temperature, alpha))
        return (float)NAN;
    for (i = 0; i < rows; ++i)
        if (!(lambda[i] >= 0 && lambda[i] <= 1) ||
            (labels[i] != DST_NO_LABEL && (labels_b[i] < 0 || labels_b[i] >= cols)))
            return (float)NAN;
    mix.labels_b = labels_b;
    mix.lambda = lambda;
    return dst__kd_loss_alloc(student_logits, teacher_logits, labels, &mix, rows, cols, temperature, alpha, grad);
}

DSTDEF float dst_mse_loss(const float *pred, const float *target, size_t n, float *grad)
{
    size_t i;
    double sum = 0;
    if (!pred || !target || n == 0) return (float)NAN;
    for (i = 0; i < n; ++i) {
        float d = pred[i] - target[i];
        sum += (double)d * (double)d;
        if (grad) grad[i] = 2.0f * d / (float)n;
    }
    return (float)(sum / (double)n);
}

/* Attention maps: Q = sum over channels of a^2 for one sample (c x h x w),
   average-pooled k x k into q (h/k x w/k), returning ||q||_2 (PyTorch's
   eps 1e-12 as its floor). */
static double dst__attention_map(const float *a, int c, int h, int w, int k, double *q)
{
    int ch, i, j, oh = h / k, ow = w / k;
    double norm = 0, area = (double)k * k;
    for (i = 0; i < oh * ow; ++i) q[i] = 0;
    for (ch = 0; ch < c; ++ch)
        for (i = 0; i < h; ++i) {
            const float *row = a + ((size_t)ch * h + i) * w;
            double *out = q + (size_t)(i / k) * ow;
            for (j = 0; j < ow; ++j) { /* pooled column j: inputs j k .. j k + k - 1 */
                const float *in = row + (size_t)j * k;
                double sum = 0;
                int u;
                for (u = 0; u < k; ++u) sum += (double)in[u] * (double)in[u];
                out[j] += sum;
            }
        }
    for (i = 0; i < oh * ow; ++i) {
        q[i] /= area;
        norm += q[i] * q[i];
    }
    norm = sqrt(norm);
    return norm > 1e-12 ? norm : 1e-12;
}

/* The pooling factors that bring two maps' sides together: 1 for the
   smaller, the whole ratio for the larger; 0 when there is none. */
static int dst__attention_sides_ok(int s_h, int s_w, int t_h, int t_w)
{
    int ks, kt;
    if (s_h < 1 || s_w < 1 || t_h < 1 || t_w < 1) return 0;
    ks = s_h >= t_h ? s_h / t_h : 1;
    kt = t_h >= s_h ? t_h / s_h : 1;
    return !(s_h % ks || s_w % ks || t_h % kt || t_w % kt || s_h / ks != t_h / kt || s_w / ks != t_w / kt);
}

/* Those factors, for sides that dst__attention_sides_ok accepts. */
static void dst__pool_factors(int s_h, int t_h, int *ks, int *kt)
{
    *ks = s_h >= t_h ? s_h / t_h : 1;
    *kt = t_h >= s_h ? t_h / s_h : 1;
}

DSTDEF float dst_attention_loss(const float *s, int s_c, int s_h, int s_w, const float *t, int t_c, int t_h,
                                int t_w, int batch, float weight, float *grad_s)
{
    int n, i, ks, kt, ch, y, xx, p;
    double total = 0, *qs, *qt;
    if (!s || !t || s_c < 1 || t_c < 1 || batch < 1 || !dst__attention_sides_ok(s_h, s_w, t_h, t_w) ||
        !(weight >= 0) || !dst__finite(weight))
        return (float)NAN;
    dst__pool_factors(s_h, t_h, &ks, &kt);
    p = (s_h / ks) * (s_w / ks);
    if (!(qs = (double *)DST_MALLOC(2 * (size_t)p * sizeof(double), NULL))) return (float)NAN;
    qt = qs + p;
    for (n = 0; n < batch; ++n) {
        const float *sn = s + (size_t)n * s_c * s_h * s_w;
        double ns = dst__attention_map(sn, s_c, s_h, s_w, ks, qs);
        double nt = dst__attention_map(t + (size_t)n * t_c * t_h * t_w, t_c, t_h, t_w, kt, qt), dot = 0;
        for (i = 0; i < p; ++i) {
            double d = qs[i] / ns - qt[i] / nt;
            total += d * d;
            qt[i] = 2.0 * (double)weight * d / ((double)batch * p); /* dL/dq_s, in qt's place */
            dot += qt[i] * qs[i] / ns;
        }
        if (!grad_s) continue;
        /* dL/dQ = (g - q (q . g)) / ||Q||, then through the pooling (1/k^2 each) and Q = sum a^2 (2a) */
        for (i = 0; i < p; ++i) qt[i] = (qt[i] - qs[i] / ns * dot) / ns / ((double)ks * ks);
        for (ch = 0; ch < s_c; ++ch)
            for (y = 0; y < s_h; ++y) {
                size_t at = ((size_t)n * s_c + ch) * s_h * s_w + (size_t)y * s_w;
                const double *g = qt + (size_t)(y / ks) * (s_w / ks);
                for (xx = 0; xx < s_w; ++xx)
                    grad_s[at + xx] += (float)(2.0 * (double)s[at + xx] * g[xx / ks]);
            }
    }
    DST_FREE(qs, NULL);
    return (float)((double)weight * total / ((double)batch * p));
}

/* One sample's c x h x w map averaged over k x k blocks into out
   (c x h/k x w/k). */
static void dst__avg_pool_sample(const float *a, int c, int h, int w, int k, float *out)
{
    int ch, i, j, ow = w / k;
    size_t oh = (size_t)(h / k);
    float inv = 1.0f / ((float)k * (float)k);
    for (i = 0; i < c * (int)oh * ow; ++i) out[i] = 0;
    for (ch = 0; ch < c; ++ch)
        for (i = 0; i < h; ++i)
            for (j = 0; j < w; ++j)
                out[((size_t)ch * oh + (size_t)(i / k)) * ow + j / k] += a[((size_t)ch * h + i) * w + j] * inv;
}

/* Per sample, with sp (s_c x p) and tp (t_c x p) the pooled maps (the
   outputs themselves when not pooled): the adapter's output W sp + b is one
   GEMM, the sum of squared differences to tp is taken in double, and from
   d = scale * difference (d loss / d output) come two more GEMMs:
   d loss / d W = d sp^T (added to grad_adapter) and d loss / d sp = W^T d
   (added to grad_s directly when not pooled, else spread back through the
   pooling, 1/k^2 of a pooled value's gradient to each of its inputs). */
DSTDEF float dst_hint_loss(const float *s, int s_c, int s_h, int s_w, const float *t, int t_c, int t_h, int t_w,
                           int batch, const float *adapter, float weight, float *grad_s, float *grad_adapter)
{
    int n, o, ch, y, xx, ks, kt, p;
    size_t s_size, t_size, i;
    double total = 0;
    float scale, *buf, *sp, *tp, *d, *gsp;
    const float *bias;
    if (!s || !t || !adapter || s_c < 1 || t_c < 1 || batch < 1 || !dst__attention_sides_ok(s_h, s_w, t_h, t_w) ||
        !(weight >= 0) || !dst__finite(weight))
        return (float)NAN;
    dst__pool_factors(s_h, t_h, &ks, &kt);
    p = (s_h / ks) * (s_w / ks);
    if ((size_t)t_c > (size_t)INT_MAX / (size_t)p || (size_t)s_c > (size_t)INT_MAX / (size_t)p ||
        (size_t)s_c + (size_t)t_c > (size_t)-1 / sizeof(float) / 2 / (size_t)p)
        return (float)NAN;
    s_size = (size_t)s_c * s_h * s_w;
    t_size = (size_t)t_c * t_h * t_w;
    bias = adapter + (size_t)t_c * s_c;
    buf = (float *)DST_MALLOC(2 * ((size_t)s_c + (size_t)t_c) * (size_t)p * sizeof(float), NULL);
    if (!buf) return (float)NAN;
    sp = buf; tp = sp + (size_t)s_c * p; d = tp + (size_t)t_c * p; gsp = d + (size_t)t_c * p;
    scale = (float)(2.0 * (double)weight / ((double)batch * t_c * p));
    for (n = 0; n < batch; ++n) {
        const float *sn = s + (size_t)n * s_size, *tn = t + (size_t)n * t_size;
        if (ks > 1) { dst__avg_pool_sample(sn, s_c, s_h, s_w, ks, sp); sn = sp; }
        if (kt > 1) { dst__avg_pool_sample(tn, t_c, t_h, t_w, kt, tp); tn = tp; }
        dst_sgemm(0, 0, t_c, p, s_c, 1.0f, adapter, s_c, sn, p, 0.0f, d, p);
        for (o = 0; o < t_c; ++o) {
            float *v = d + (size_t)o * p;
            const float *want = tn + (size_t)o * p;
            for (i = 0; i < (size_t)p; ++i) {
                float diff = v[i] + bias[o] - want[i];
                total += (double)diff * (double)diff;
                v[i] = scale * diff;
            }
        }
        if (grad_adapter) {
            dst_sgemm(0, 1, t_c, s_c, p, 1.0f, d, p, sn, p, 1.0f, grad_adapter, s_c);
            for (o = 0; o < t_c; ++o) {
                double b = 0;
                for (i = 0; i < (size_t)p; ++i) b += (double)d[(size_t)o * p + i];
                grad_adapter[(size_t)t_c * s_c + o] += (float)b;
            }
        }
        if (!grad_s) continue;
        if (ks == 1) {
            dst_sgemm(1, 0, s_c, p, t_c, 1.0f, adapter, s_c, d, p, 1.0f, grad_s + (size_t)n * s_size, p);
            continue;
        }
        dst_sgemm(1, 0, s_c, p, t_c, 1.0f, adapter, s_c, d, p, 0.0f, gsp, p);
        for (ch = 0; ch < s_c; ++ch)
            for (y = 0; y < s_h; ++y)
                for (xx = 0; xx < s_w; ++xx)
                    grad_s[(size_t)n * s_size + ((size_t)ch * s_h + y) * s_w + xx] +=
                        gsp[(size_t)ch * p + (size_t)(y / ks) * (s_w / ks) + xx / ks] / ((float)ks * (float)ks);
    }
    DST_FREE(buf, NULL);
    return (float)((double)weight * total / ((double)batch * t_c * p));
}

/* ==== activations ================================================= >>act */

/* ReLU and its gradient, the element-wise loops of every MLP step.
   dst__relu: y = x > 0 ? x : 0 (NaN gives 0); y may equal x.
   dst__relu_grad: dx = s > 0 ? dy : 0, where s is the forward's input or,
   equally, its output (both are > 0 at the same places); dx may equal dy. */
static void dst__relu_scalar(const float *x, float *y, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : 0;
}

static void dst__relu_grad_scalar(const float *s, const float *dy, float *dx, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) dx[i] = s[i] > 0 ? dy[i] : 0;
}

#if defined(DST__V4ISA)
/* dst__relu_sse2 / dst__relu_neon, dst__relu_grad_sse2 / dst__relu_grad_neon */
static void DST__V4NAME(dst__relu)(const float *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        dst__v4 a = DST__VLOAD(DST__V4ISA, x + i), b = DST__VLOAD(DST__V4ISA, x + i + 4);
        DST__VSTORE(DST__V4ISA, y + i, DST__VPOS_OR_0(DST__V4ISA, a, a));
        DST__VSTORE(DST__V4ISA, y + i + 4, DST__VPOS_OR_0(DST__V4ISA, b, b));
    }
    dst__relu_scalar(x + i, y + i, n - i);
}

static void DST__V4NAME(dst__relu_grad)(const float *s, const float *dy, float *dx, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        DST__VSTORE(DST__V4ISA, dx + i, DST__VPOS_OR_0(DST__V4ISA, DST__VLOAD(DST__V4ISA, s + i), DST__VLOAD(DST__V4ISA, dy + i)));
    dst__relu_grad_scalar(s + i, dy + i, dx + i, n - i);
}
#endif

static void dst__relu(const float *x, float *y, size_t n) { dst__kern()->relu(x, y, n); }

static void dst__relu_grad(const float *s, const float *dy, float *dx, size_t n)
{
    dst__kern()->relu_grad(s, dy, dx, n);
}

DSTDEF void dst_activation_forward(dst_activation act, float param, const float *x, float *y, size_t n)
{
    size_t i;
    if (n && (!x || !y)) return; /* bad arguments: nothing done (an unknown act matches no case) */
    switch (act) {
    case DST_ACT_RELU:
        dst__relu(x, y, n);
        break;
    case DST_ACT_LEAKY_RELU:
        for (i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : param * x[i];
        break;
    case DST_ACT_SIGMOID:
        for (i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case DST_ACT_TANH:
        for (i = 0; i < n; ++i) y[i] = tanhf(x[i]);
        break;
    case DST_ACT_GELU:
        for (i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        break;
    }
}

DSTDEF void dst_activation_backward(dst_activation act, float param, const float *x, const float *y,
                                    const float *dy, float *dx, size_t n)
{
    size_t i;
    if (n && (!x || !y || !dy || !dx)) return; /* bad arguments: nothing done */
    switch (act) {
    case DST_ACT_RELU:
        dst__relu_grad(x, dy, dx, n);
        break;
    case DST_ACT_LEAKY_RELU:
        for (i = 0; i < n; ++i) dx[i] = x[i] > 0 ? dy[i] : param * dy[i];
        break;
    case DST_ACT_SIGMOID:
        for (i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    case DST_ACT_TANH:
        for (i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case DST_ACT_GELU:
        for (i = 0; i < n; ++i) {
            float cdf = 0.5f * (1.0f + erff(x[i] * 0.70710678118654752f));
            float pdf = 0.39894228040143268f * expf(-0.5f * x[i] * x[i]);
            dx[i] = dy[i] * (cdf + x[i] * pdf);
        }
        break;
    }
}

/* ==== convolution ================================================ >>conv */

/* One GEMM: through the caller's packing buffer when there is one (inside a
   model), else the public entry point. */
static void dst__gemm(float *pack, int trans_a, int trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (pack) dst__sgemm_run(NULL, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &pack, 1,
                             DST__GEMM_PACK_FLOATS);
    else dst_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

DSTDEF dst_conv2d_params dst_conv2d_params_make(int in_c, int in_h, int in_w, int out_c,
                                                int kernel, int stride, int pad)
{
    dst_conv2d_params p;
    p.in_c = in_c; p.in_h = in_h; p.in_w = in_w; p.out_c = out_c;
    p.kernel_h = p.kernel_w = kernel;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = pad;
    p.dilation_h = p.dilation_w = 1;
    p.groups = 1;
    return p;
}

/* Output length of a window sweep, or 0 when the window does not fit. */
static long long dst__window_out(long long in, long long kernel, long long stride, long long pad, long long dilation)
{
    long long span = dilation * (kernel - 1) + 1, padded = in + 2 * pad;
    if (span > padded) return 0;
    return (padded - span) / stride + 1;
}

/* The kernels index a window sweep in int (o * stride - pad + i * dilation,
   a window's first output -(o - pad) + stride - 1, ...): every such value
   lies within in + 2 pad + stride + span, which this bounds by INT_MAX. */
static int dst__window_int_ok(long long in, long long kernel, long long stride, long long pad, long long dilation)
{
    return in + 2 * pad + stride + dilation * (kernel - 1) + 1 <= INT_MAX;
}

DSTDEF dst_result dst_conv2d_check(const dst_conv2d_params *p, int *out_h, int *out_w, dst_error *err)
{
    long long oh, ow, k;
    if (!p) return dst__err(err, DST_ERR_ARG, "conv2d params are NULL");
    if (p->in_c < 1 || p->in_h < 1 || p->in_w < 1)
        return dst__err(err, DST_ERR_ARG, "input %d x %d x %d: every dimension must be >= 1", p->in_c, p->in_h, p->in_w);
    if (p->out_c < 1) return dst__err(err, DST_ERR_ARG, "output channels %d: must be >= 1", p->out_c);
    if (p->kernel_h < 1 || p->kernel_w < 1)
        return dst__err(err, DST_ERR_ARG, "kernel %dx%d: must be >= 1", p->kernel_h, p->kernel_w);
    if (p->stride_h < 1 || p->stride_w < 1)
        return dst__err(err, DST_ERR_ARG, "stride %dx%d: must be >= 1", p->stride_h, p->stride_w);
    if (p->pad_h < 0 || p->pad_w < 0)
        return dst__err(err, DST_ERR_ARG, "padding %dx%d: must be >= 0", p->pad_h, p->pad_w);
    if (p->dilation_h < 1 || p->dilation_w < 1)
        return dst__err(err, DST_ERR_ARG, "dilation %dx%d: must be >= 1", p->dilation_h, p->dilation_w);
    if (p->groups < 1 || p->in_c % p->groups || p->out_c % p->groups)
        return dst__err(err, DST_ERR_ARG, "groups %d: must be >= 1 and divide the input channels %d and output channels %d",
                        p->groups, p->in_c, p->out_c);
    oh = dst__window_out(p->in_h, p->kernel_h, p->stride_h, p->pad_h, p->dilation_h);
    ow = dst__window_out(p->in_w, p->kernel_w, p->stride_w, p->pad_w, p->dilation_w);
    if (oh == 0 || ow == 0)
        return dst__err(err, DST_ERR_ARG, "kernel %dx%d with dilation %dx%d spans %lldx%lld, larger than the padded input %lldx%lld",
                        p->kernel_h, p->kernel_w, p->dilation_h, p->dilation_w,
                        (long long)p->dilation_h * (p->kernel_h - 1) + 1, (long long)p->dilation_w * (p->kernel_w - 1) + 1,
                        p->in_h + 2LL * p->pad_h, p->in_w + 2LL * p->pad_w);
    if (!dst__window_int_ok(p->in_h, p->kernel_h, p->stride_h, p->pad_h, p->dilation_h) ||
        !dst__window_int_ok(p->in_w, p->kernel_w, p->stride_w, p->pad_w, p->dilation_w))
        return dst__err(err, DST_ERR_ARG, "padding %dx%d, stride %dx%d, kernel %dx%d and dilation %dx%d on %dx%d: "
                        "a window's indices pass INT_MAX", p->pad_h, p->pad_w, p->stride_h, p->stride_w, p->kernel_h,
                        p->kernel_w, p->dilation_h, p->dilation_w, p->in_h, p->in_w);
    /* every plane, column matrix side and per-sample tensor indexable by
       int, each product checked before it is formed */
    if (!dst__product_le(p->in_h, p->in_w, 1, INT_MAX) || !dst__product_le(oh, ow, 1, INT_MAX) ||
        !dst__product_le(p->in_c / p->groups, p->kernel_h, p->kernel_w, INT_MAX) ||
        !dst__product_le(p->in_c, p->in_h, p->in_w, INT_MAX) || !dst__product_le(p->out_c, oh, ow, INT_MAX))
        return dst__err(err, DST_ERR_ARG, "input %d x %d x %d to %d x %lld x %lld is too large",
                        p->in_c, p->in_h, p->in_w, p->out_c, oh, ow);
    k = (long long)(p->in_c / p->groups) * p->kernel_h * p->kernel_w;
    if ((double)k * (double)(oh * ow) > (double)((size_t)-1 / sizeof(float)))
        return dst__err(err, DST_ERR_ARG, "input %d x %d x %d to %d x %lld x %lld: the column matrix is too large",
                        p->in_c, p->in_h, p->in_w, p->out_c, oh, ow);
    if (out_h) *out_h = (int)oh;
    if (out_w) *out_w = (int)ow;
    return DST_OK;
}

static int dst__conv_out_h(const dst_conv2d_params *p)
{
    return (int)dst__window_out(p->in_h, p->kernel_h, p->stride_h, p->pad_h, p->dilation_h);
}

static int dst__conv_out_w(const dst_conv2d_params *p)
{
    return (int)dst__window_out(p->in_w, p->kernel_w, p->stride_w, p->pad_w, p->dilation_w);
}

/* ---- convolution: the paths -------------------------------------------------
   The same convolution four ways, chosen per shape by dst__conv_path_of()
   (measurements in docs/BENCHMARKS.md):
   - im2col + GEMM per group: the general path. A 1x1 stride-1 unpadded
     convolution skips im2col and multiplies the input planes directly.
     When a sample's output plane is small, a model puts the columns of
     several samples side by side so that one wider GEMM does them all.
   - direct: for each output channel, input channel and kernel tap, one
     multiply-add of an input row segment into an output row; the edges
     are clipped once per tap, so the inner loops have no bounds checks.
     For depthwise convolutions (one input channel per group), where each
     group's GEMM would be 1 x P x (kh kw). A first layer on gray images
     (one input channel, one group) goes to im2col + GEMM instead, which is
     faster there (docs/BENCHMARKS.md, "convolution paths").
   - Winograd F(2x2, 3x3), forward, dx and dW: 3x3 stride-1 convolutions
     with 8 or more channels in and out under AVX-512, 32 or more under
     AVX2 (section below).
   - reference: the definition's plain loops, the oracle of the tests
     (reached only through the path argument of dst__conv2d_forward /
     _backward, as the tests do). */

static int dst__conv_pointwise(const dst_conv2d_params *p)
{
    return p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
           p->pad_h == 0 && p->pad_w == 0;
}

typedef enum dst__conv_path {
    DST__CONV_AUTO,      /* the one for the shape: see dst__conv_path_of */
    DST__CONV_GEMM,
    DST__CONV_DIRECT,
    DST__CONV_REFERENCE,
    DST__CONV_WINOGRAD   /* falls back to GEMM where the shape or build has none */
} dst__conv_path;

static int dst__conv_direct(const dst_conv2d_params *p) { return p->groups > 1 && p->in_c == p->groups; }

/* Shapes Winograd F(2x2, 3x3) computes: 3x3, stride 1, no dilation, one
   group, padding at most 2, at most 4096 channels in and out; builds with
   the GEMM's micro-kernels (x86 and AArch64; a scalar run falls back to
   im2col + GEMM). */
static int dst__conv_winograd_shape(const dst_conv2d_params *p)
{
#if defined(DST__SIMD_ANY)
    const int build = 1;
#else
    const int build = 0;
#endif
    return build && p->in_c <= 4096 && p->out_c <= 4096 && p->kernel_h == 3 && p->kernel_w == 3 && p->stride_h == 1 && p->stride_w == 1 &&
           p->dilation_h == 1 && p->dilation_w == 1 && p->groups == 1 && p->pad_h <= 2 && p->pad_w <= 2;
}

/* Winograd pays off where its transforms are vector code (AVX-512 or
   AVX2; the plain C ones made it slower than im2col + GEMM) and the
   products dominate them: with AVX-512 at least DST__CONV_WINOGRAD_CHANNELS
   input and output channels, with AVX2 (8 tiles at a time, 6 x 16
   micro-kernels) at least DST__CONV_WINOGRAD_CHANNELS_AVX2; an output plane
   of at least DST__CONV_WINOGRAD_PLANE values (smaller planes are mostly
   edge tiles). The chunks of tiles span samples, so small planes fill the
   products too. The shapes that set these thresholds: bench/bench_conv_paths.c,
   docs/BENCHMARKS.md.
   Each level's kernel table carries its channel rule (wino_channels). */
#define DST__CONV_WINOGRAD_CHANNELS 8
#define DST__CONV_WINOGRAD_CHANNELS_AVX2 32
#define DST__CONV_WINOGRAD_PLANE 16

/* The shape would take Winograd where the AVX-512 transforms run (what a
   model's workspace is sized for, whatever the level at run time; the
   AVX2 rule asks for more). */
static int dst__conv_winograd_pays(const dst_conv2d_params *p)
{
    return dst__conv_winograd_shape(p) && p->in_c >= DST__CONV_WINOGRAD_CHANNELS &&
           p->out_c >= DST__CONV_WINOGRAD_CHANNELS &&
           (long long)dst__conv_out_h(p) * dst__conv_out_w(p) >= DST__CONV_WINOGRAD_PLANE;
}

/* Winograd's fixed work per call (the filters' transform, setting up the
   chunks) pays only with enough tiles in the batch; below this, batch-1
   inference of a small layer is faster by im2col + GEMM
   (docs/BENCHMARKS.md, "Winograd tile threshold"). */
#define DST__CONV_WINOGRAD_TILES 256

static dst__conv_path dst__conv_path_of(const dst_conv2d_params *p, dst__conv_path path, int batch)
{
    int wc;
    if (path == DST__CONV_WINOGRAD && !dst__conv_winograd_shape(p)) return DST__CONV_GEMM;
    if (path != DST__CONV_AUTO) return path;
    if (dst__conv_direct(p)) return DST__CONV_DIRECT;
    wc = dst__kern()->wino_channels; /* the level's rule: DST__CONV_WINOGRAD_CHANNELS(_AVX2) or 0 */
    if (dst__conv_winograd_pays(p) &&
        (long long)batch * ((dst__conv_out_h(p) + 1) / 2) * ((dst__conv_out_w(p) + 1) / 2) >= DST__CONV_WINOGRAD_TILES &&
        wc > 0 && p->in_c >= wc && p->out_c >= wc)
        return DST__CONV_WINOGRAD;
    return DST__CONV_GEMM;
}

static size_t dst__conv_winograd_work(const dst_conv2d_params *p);

/* A sample's output plane of fewer than DST__CONV_GEMM_COLUMNS / 4 values
   gets several samples side by side, about DST__CONV_GEMM_COLUMNS columns
   per GEMM, their column matrix at most DST__CONV_GEMM_MAX_COL floats; not
   for 1x1 convolutions, which would then copy what they now read in place
   (measured: bench/bench_conv_paths.c, docs/BENCHMARKS.md). */
#define DST__CONV_GEMM_COLUMNS 512
#define DST__CONV_GEMM_MAX_COL ((size_t)1 << 20)

/* Samples per GEMM for a model's conv layer (the public kernels use 1). */
static int dst__conv_samples_per_gemm(const dst_conv2d_params *p)
{
    int npos = dst__conv_out_h(p) * dst__conv_out_w(p), nb;
    size_t kdim = (size_t)(p->in_c / p->groups) * p->kernel_h * p->kernel_w;
    if (dst__conv_direct(p) || dst__conv_pointwise(p) || npos >= DST__CONV_GEMM_COLUMNS / 4) return 1;
    nb = (DST__CONV_GEMM_COLUMNS + npos - 1) / npos;
    while (nb > 1 && kdim * (size_t)npos * (size_t)nb > DST__CONV_GEMM_MAX_COL) --nb;
    return nb;
}

/* Scratch floats for nb samples per GEMM: their column matrix (none for
   1x1 convolutions of one sample) and, when nb > 1, the GEMM's output; for
   a shape that may take Winograd (AUTO: at run time by the SIMD level),
   also what Winograd needs. */
static size_t dst__conv_work_floats(const dst_conv2d_params *p, dst__conv_path path, int nb)
{
    size_t kdim = (size_t)(p->in_c / p->groups) * p->kernel_h * p->kernel_w;
    size_t npos = (size_t)dst__conv_out_h(p) * (size_t)dst__conv_out_w(p), n = 0, w;
    int wino = (path == DST__CONV_WINOGRAD && dst__conv_winograd_shape(p)) ||
               (path == DST__CONV_AUTO && dst__conv_winograd_pays(p));
    if ((path == DST__CONV_GEMM || path == DST__CONV_WINOGRAD || (path == DST__CONV_AUTO && !dst__conv_direct(p))) &&
        !(nb == 1 && dst__conv_pointwise(p)))
        n = kdim * npos * (size_t)nb + (nb > 1 ? (size_t)(p->out_c / p->groups) * npos * (size_t)nb : 0);
    w = wino ? dst__conv_winograd_work(p) : 0;
    return w > n ? w : n;
}

DSTDEF size_t dst_conv2d_work_floats(const dst_conv2d_params *p)
{
    if (dst_conv2d_check(p, NULL, NULL, NULL) != DST_OK) return 0;
    return dst__conv_work_floats(p, DST__CONV_AUTO, 1);
}

/* ---- convolution: row loops ---------------------------------------------------
   The inner loops of im2col / col2im and the direct path, written once
   over the 4-lane set (SSE2 on x86, NEON on AArch64), two vectors a step
   where it helps; multiply and add stay separate instructions, so d += a * s
   rounds as the scalar loop does. vec: the kernel table's conv_rows, taken
   once per call by the caller (0: the plain C loops, the reference). */

#if defined(DST__V4ISA)
/* (v0 + v1) + (v2 + v3) */
static float dst__v4_sum(dst__v4 v)
{
    float t[4];
    DST__VSTORE(DST__V4ISA, t, v);
    return (t[0] + t[1]) + (t[2] + t[3]);
}
#endif

/* d[k] += a * s[k], k < n */
static void dst__row_axpy(int vec, float *d, float a, const float *s, int n)
{
    int k = 0;
#if defined(DST__V4ISA)
    if (vec) {
        dst__v4 va = DST__VSET1(DST__V4ISA, a);
        for (; k + 8 <= n; k += 8) {
            dst__v4 d0 = DST__VADD(DST__V4ISA, DST__VLOAD(DST__V4ISA, d + k),
                                   DST__VMUL(DST__V4ISA, va, DST__VLOAD(DST__V4ISA, s + k)));
            dst__v4 d1 = DST__VADD(DST__V4ISA, DST__VLOAD(DST__V4ISA, d + k + 4),
                                   DST__VMUL(DST__V4ISA, va, DST__VLOAD(DST__V4ISA, s + k + 4)));
            DST__VSTORE(DST__V4ISA, d + k, d0);
            DST__VSTORE(DST__V4ISA, d + k + 4, d1);
        }
        for (; k + 4 <= n; k += 4)
            DST__VSTORE(DST__V4ISA, d + k, DST__VADD(DST__V4ISA, DST__VLOAD(DST__V4ISA, d + k),
                                                     DST__VMUL(DST__V4ISA, va, DST__VLOAD(DST__V4ISA, s + k))));
    }
#endif
    (void)vec;
    for (; k < n; ++k) d[k] += a * s[k];
}

/* d[k] += s[k], k < n */
static void dst__row_add(int vec, float *d, const float *s, int n)
{
    int k = 0;
#if defined(DST__V4ISA)
    if (vec) {
        for (; k + 8 <= n; k += 8) {
            DST__VSTORE(DST__V4ISA, d + k, DST__VADD(DST__V4ISA, DST__VLOAD(DST__V4ISA, d + k), DST__VLOAD(DST__V4ISA, s + k)));
            DST__VSTORE(DST__V4ISA, d + k + 4,
                        DST__VADD(DST__V4ISA, DST__VLOAD(DST__V4ISA, d + k + 4), DST__VLOAD(DST__V4ISA, s + k + 4)));
        }
        for (; k + 4 <= n; k += 4)
            DST__VSTORE(DST__V4ISA, d + k, DST__VADD(DST__V4ISA, DST__VLOAD(DST__V4ISA, d + k), DST__VLOAD(DST__V4ISA, s + k)));
    }
#endif
    (void)vec;
    for (; k < n; ++k) d[k] += s[k];
}

/* sum of a[k] * b[k], k < n (vec: four partial sums and two vectors) */
static float dst__row_dot(int vec, const float *a, const float *b, int n)
{
    int k = 0;
    float s = 0;
#if defined(DST__V4ISA)
    if (vec) {
        dst__v4 s0 = DST__VZERO(DST__V4ISA), s1 = s0;
        for (; k + 8 <= n; k += 8) {
            s0 = DST__VADD(DST__V4ISA, s0, DST__VMUL(DST__V4ISA, DST__VLOAD(DST__V4ISA, a + k), DST__VLOAD(DST__V4ISA, b + k)));
            s1 = DST__VADD(DST__V4ISA, s1,
                           DST__VMUL(DST__V4ISA, DST__VLOAD(DST__V4ISA, a + k + 4), DST__VLOAD(DST__V4ISA, b + k + 4)));
        }
        for (; k + 4 <= n; k += 4)
            s0 = DST__VADD(DST__V4ISA, s0, DST__VMUL(DST__V4ISA, DST__VLOAD(DST__V4ISA, a + k), DST__VLOAD(DST__V4ISA, b + k)));
        s = dst__v4_sum(DST__VADD(DST__V4ISA, s0, s1));
    }
#endif
    (void)vec;
    for (; k < n; ++k) s += a[k] * b[k];
    return s;
}

/* d[k] = s[k], k < n: inline for the short rows of small images, where a
   call to memcpy costs more than the copy */
static void dst__row_copy(int vec, float *d, const float *s, int n)
{
    int k = 0;
    if (n > 64) {
        memcpy(d, s, (size_t)n * sizeof(float));
        return;
    }
#if defined(DST__V4ISA)
    if (vec) {
        for (; k + 8 <= n; k += 8) {
            DST__VSTORE(DST__V4ISA, d + k, DST__VLOAD(DST__V4ISA, s + k));
            DST__VSTORE(DST__V4ISA, d + k + 4, DST__VLOAD(DST__V4ISA, s + k + 4));
        }
        for (; k + 4 <= n; k += 4) DST__VSTORE(DST__V4ISA, d + k, DST__VLOAD(DST__V4ISA, s + k));
    }
#endif
    (void)vec;
    for (; k < n; ++k) d[k] = s[k];
}

#if defined(DST__V4ISA)
/* rows x (zl zeros, n >= 4 values from s, zr zeros) into d (row length
   ld = zl + n + zr), source rows ls apart: the rows of one im2col tap. The
   last 4 values of a row are stored by one vector that may overlap the
   previous one (same values), so no row has a scalar tail. */
static void dst__copy_rows(float *d, int ld, const float *s, size_t ls, int rows, int zl, int n, int zr)
{
    int r, k;
    for (r = 0; r < rows; ++r, d += ld, s += ls) {
        float *dr = d + zl;
        for (k = 0; k < zl; ++k) d[k] = 0;
        for (k = 0; k + 4 <= n; k += 4) DST__VSTORE(DST__V4ISA, dr + k, DST__VLOAD(DST__V4ISA, s + k));
        if (k < n) DST__VSTORE(DST__V4ISA, dr + n - 4, DST__VLOAD(DST__V4ISA, s + n - 4));
        for (k = 0; k < zr; ++k) dr[n + k] = 0;
    }
}
#endif

/* d[k] += a, k < n */
static void dst__row_add_scalar(int vec, float *d, float a, size_t n)
{
    size_t k = 0;
#if defined(DST__V4ISA)
    if (vec) {
        dst__v4 va = DST__VSET1(DST__V4ISA, a);
        for (; k + 8 <= n; k += 8) {
            DST__VSTORE(DST__V4ISA, d + k, DST__VADD(DST__V4ISA, DST__VLOAD(DST__V4ISA, d + k), va));
            DST__VSTORE(DST__V4ISA, d + k + 4, DST__VADD(DST__V4ISA, DST__VLOAD(DST__V4ISA, d + k + 4), va));
        }
    }
#endif
    (void)vec;
    for (; k < n; ++k) d[k] += a;
}

/* sum of s[k], k < n (vec: four partial sums and two vectors) */
static float dst__row_sum(int vec, const float *s, size_t n)
{
    size_t k = 0;
    float t = 0;
#if defined(DST__V4ISA)
    if (vec) {
        dst__v4 s0 = DST__VZERO(DST__V4ISA), s1 = s0;
        for (; k + 8 <= n; k += 8) {
            s0 = DST__VADD(DST__V4ISA, s0, DST__VLOAD(DST__V4ISA, s + k));
            s1 = DST__VADD(DST__V4ISA, s1, DST__VLOAD(DST__V4ISA, s + k + 4));
        }
        t = dst__v4_sum(DST__VADD(DST__V4ISA, s0, s1));
    }
#endif
    (void)vec;
    for (; k < n; ++k) t += s[k];
    return t;
}

/* The outputs o in [*lo, *hi) of a window sweep whose input index
   o * stride + off falls inside [0, in): the rest read padding. */
static void dst__tap_span(int out, int in, int stride, int off, int *lo, int *hi)
{
    int a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int b = in - 1 - off < 0 ? 0 : (in - 1 - off) / stride + 1;
    if (b > out) b = out;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* ---- convolution: im2col and col2im -------------------------------------------- */

/* Row (c, i, j) of the column matrix starts at col + ((c kh + i) kw + j) ld:
   ld = out_h * out_w for one sample, more when several samples' columns sit
   side by side. Per row: zeros above and below the rows the tap reaches,
   zeros left and right of its columns, and one copy (stride 1) or one
   strided gather in between. */
static void dst__im2col_ld(const dst_conv2d_params *p, int channels, const float *x, float *col, size_t ld)
{
    int hgt = p->in_h, wid = p->in_w, oh = dst__conv_out_h(p), ow = dst__conv_out_w(p), sw = p->stride_w;
    int vec = dst__kern()->conv_rows;
    int c, i, j, yo, xo, y0, y1, x0, x1;
    for (c = 0; c < channels; ++c)
        for (i = 0; i < p->kernel_h; ++i) {
            int th = i * p->dilation_h - p->pad_h;
            dst__tap_span(oh, hgt, p->stride_h, th, &y0, &y1);
            for (j = 0; j < p->kernel_w; ++j) {
                int tw = j * p->dilation_w - p->pad_w;
                float *row = col + (((size_t)c * p->kernel_h + i) * p->kernel_w + j) * ld;
                dst__tap_span(ow, wid, sw, tw, &x0, &x1);
                if (y0 > 0) memset(row, 0, (size_t)y0 * ow * sizeof(float));
                yo = y0;
#if defined(DST__V4ISA)
                if (vec && sw == 1 && x1 - x0 >= 4 && y1 > y0) {
                    dst__copy_rows(row + (size_t)y0 * ow, ow, x + ((size_t)c * hgt + (y0 * p->stride_h + th)) * wid + (x0 + tw),
                                   (size_t)p->stride_h * wid, y1 - y0, x0, x1 - x0, ow - x1);
                    yo = y1;
                }
#endif
                for (; yo < y1; ++yo) {
                    float *r = row + (size_t)yo * ow;
                    const float *s = x + ((size_t)c * hgt + (yo * p->stride_h + th)) * wid + (x0 * sw + tw);
                    if (x0 > 0) memset(r, 0, (size_t)x0 * sizeof(float));
                    if (sw == 1) dst__row_copy(vec, r + x0, s, x1 - x0);
                    else for (xo = x0; xo < x1; ++xo) r[xo] = s[(size_t)(xo - x0) * sw];
                    if (x1 < ow) memset(r + x1, 0, (size_t)(ow - x1) * sizeof(float));
                }
                if (y1 < oh) memset(row + (size_t)y1 * ow, 0, (size_t)(oh - y1) * ow * sizeof(float));
            }
        }
}

/* The transpose: adds each row's reachable part back into x. */
static void dst__col2im_ld(const dst_conv2d_params *p, int channels, const float *col, size_t ld, float *x)
{
    int hgt = p->in_h, wid = p->in_w, oh = dst__conv_out_h(p), ow = dst__conv_out_w(p), sw = p->stride_w;
    int vec = dst__kern()->conv_rows;
    int c, i, j, yo, xo, y0, y1, x0, x1;
    for (c = 0; c < channels; ++c)
        for (i = 0; i < p->kernel_h; ++i) {
            int th = i * p->dilation_h - p->pad_h;
            dst__tap_span(oh, hgt, p->stride_h, th, &y0, &y1);
            for (j = 0; j < p->kernel_w; ++j) {
                int tw = j * p->dilation_w - p->pad_w;
                const float *row = col + (((size_t)c * p->kernel_h + i) * p->kernel_w + j) * ld;
                dst__tap_span(ow, wid, sw, tw, &x0, &x1);
                for (yo = y0; yo < y1; ++yo) {
                    const float *r = row + (size_t)yo * ow + x0;
                    float *d = x + ((size_t)c * hgt + (yo * p->stride_h + th)) * wid + (x0 * sw + tw);
                    if (sw == 1) dst__row_add(vec, d, r, x1 - x0);
                    else for (xo = 0; xo < x1 - x0; ++xo) d[(size_t)xo * sw] += r[xo];
                }
            }
        }
}

/* Bad arguments (p failing dst_conv2d_check, channels outside [1, in_c],
   NULL arrays): nothing done. */
static int dst__im2col_args_ok(const dst_conv2d_params *p, int channels, const float *a, const float *b)
{
    return dst_conv2d_check(p, NULL, NULL, NULL) == DST_OK && channels >= 1 && channels <= p->in_c && a && b;
}

DSTDEF void dst_im2col(const dst_conv2d_params *p, int channels, const float *x, float *col)
{
    if (!dst__im2col_args_ok(p, channels, x, col)) return;
    dst__im2col_ld(p, channels, x, col, (size_t)dst__conv_out_h(p) * dst__conv_out_w(p));
}

DSTDEF void dst_col2im(const dst_conv2d_params *p, int channels, const float *col, float *x)
{
    if (!dst__im2col_args_ok(p, channels, col, x)) return;
    dst__col2im_ld(p, channels, col, (size_t)dst__conv_out_h(p) * dst__conv_out_w(p), x);
}

/* ---- convolution: reference loops ---------------------------------------------- */

static void dst__conv2d_forward_ref(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                    const float *bias, float *y)
{
    int hgt = p->in_h, wid = p->in_w, oh = dst__conv_out_h(p), ow = dst__conv_out_w(p), kh = p->kernel_h, kw = p->kernel_w;
    int icg = p->in_c / p->groups, ocg = p->out_c / p->groups, n, o, c, yo, xo, i, j;
    for (n = 0; n < batch; ++n)
        for (o = 0; o < p->out_c; ++o)
            for (yo = 0; yo < oh; ++yo)
                for (xo = 0; xo < ow; ++xo) {
                    float s = bias ? bias[o] : 0.0f;
                    for (c = 0; c < icg; ++c) {
                        const float *src = x + ((size_t)n * p->in_c + (size_t)(o / ocg) * icg + c) * hgt * wid;
                        const float *k = w + ((size_t)o * icg + c) * kh * kw;
                        for (i = 0; i < kh; ++i)
                            for (j = 0; j < kw; ++j) {
                                int ih = yo * p->stride_h - p->pad_h + i * p->dilation_h;
                                int iw = xo * p->stride_w - p->pad_w + j * p->dilation_w;
                                if (ih >= 0 && ih < hgt && iw >= 0 && iw < wid) s += k[i * kw + j] * src[(size_t)ih * wid + iw];
                            }
                    }
                    y[(((size_t)n * p->out_c + o) * oh + yo) * ow + xo] = s;
                }
}

static void dst__conv2d_backward_ref(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                     const float *dy, float *dx, float *dw, float *db)
{
    int hgt = p->in_h, wid = p->in_w, oh = dst__conv_out_h(p), ow = dst__conv_out_w(p), kh = p->kernel_h, kw = p->kernel_w;
    int icg = p->in_c / p->groups, ocg = p->out_c / p->groups, n, o, c, yo, xo, i, j;
    if (dx) memset(dx, 0, (size_t)batch * p->in_c * hgt * wid * sizeof(float));
    if (dw) memset(dw, 0, (size_t)p->out_c * icg * kh * kw * sizeof(float));
    if (db) memset(db, 0, (size_t)p->out_c * sizeof(float));
    for (n = 0; n < batch; ++n)
        for (o = 0; o < p->out_c; ++o)
            for (yo = 0; yo < oh; ++yo)
                for (xo = 0; xo < ow; ++xo) {
                    float d = dy[(((size_t)n * p->out_c + o) * oh + yo) * ow + xo];
                    if (db) db[o] += d;
                    for (c = 0; c < icg; ++c) {
                        size_t in_off = ((size_t)n * p->in_c + (size_t)(o / ocg) * icg + c) * hgt * wid;
                        size_t k_off = ((size_t)o * icg + c) * kh * kw;
                        for (i = 0; i < kh; ++i)
                            for (j = 0; j < kw; ++j) {
                                int ih = yo * p->stride_h - p->pad_h + i * p->dilation_h;
                                int iw = xo * p->stride_w - p->pad_w + j * p->dilation_w;
                                if (ih < 0 || ih >= hgt || iw < 0 || iw >= wid) continue;
                                if (dw) dw[k_off + i * kw + j] += d * x[in_off + (size_t)ih * wid + iw];
                                if (dx) dx[in_off + (size_t)ih * wid + iw] += d * w[k_off + i * kw + j];
                            }
                    }
                }
}

/* ---- convolution: the direct path -------------------------------------------- */

/* Depthwise planes with stride 1 across (the usual case), 4 and 8 outputs
   at a time (the 4-lane set; the kernel table's plane_forward and
   plane_weight_grad, NULL at the scalar level): in the columns where every tap of the kernel row lies inside
   the image, each output vector adds kh x kw products of a broadcast
   weight and an unaligned input vector, with no bounds tests; the columns
   at the edges take the scalar loop that tests each tap. Kernels of up to
   DST__PLANE_TAPS taps. */
#define DST__PLANE_TAPS 49

/* One plane's window sweep: out (oh x ow) = (accumulate ? out : b) + sum
   over taps k[i][j] in[yo sh + i dh - ph][xo + j dw - pw], zero outside
   the ih x iw input. The pads may be negative (the backward's sweep). */
struct dst__plane {
    int ih, iw, oh, ow, kh, kw, sh, dh, dw, ph, pw;
};

#if defined(DST__V4ISA)
/* The output columns [*xa, *xb) whose every tap is inside the row. */
static void dst__plane_inner(const dst__plane *q, int *xa, int *xb)
{
    int a = q->pw > 0 ? q->pw : 0, b = q->iw + q->pw - (q->kw - 1) * q->dw;
    if (b > q->ow) b = q->ow;
    if (b < a) b = a;
    *xa = a;
    *xb = b;
}

/* dst__plane_forward_sse2 / dst__plane_forward_neon */
static void DST__V4NAME(dst__plane_forward)(const dst__plane *q, const float *in, const float *k, float b,
                                            int accumulate, float *out)
{
    dst__v4 wv[DST__PLANE_TAPS];
    int yo, xo, i, j, i0, i1, xa, xb, t, kw = q->kw;
    for (t = 0; t < q->kh * kw; ++t) wv[t] = DST__VSET1(DST__V4ISA, k[t]);
    dst__plane_inner(q, &xa, &xb);
    for (yo = 0; yo < q->oh; ++yo) {
        float *d = out + (size_t)yo * q->ow;
        int top = yo * q->sh - q->ph; /* input row of tap row 0 */
        dst__tap_span(q->kh, q->ih, q->dh, top, &i0, &i1);
        for (xo = xa; xo + 8 <= xb; xo += 8) {
            dst__v4 a0 = accumulate ? DST__VLOAD(DST__V4ISA, d + xo) : DST__VSET1(DST__V4ISA, b);
            dst__v4 a1 = accumulate ? DST__VLOAD(DST__V4ISA, d + xo + 4) : DST__VSET1(DST__V4ISA, b);
            for (i = i0; i < i1; ++i) {
                const float *r = in + (size_t)(top + i * q->dh) * q->iw + (xo - q->pw);
                for (j = 0; j < kw; ++j) {
                    a0 = DST__VADD(DST__V4ISA, a0, DST__VMUL(DST__V4ISA, wv[i * kw + j], DST__VLOAD(DST__V4ISA, r + j * q->dw)));
                    a1 = DST__VADD(DST__V4ISA, a1,
                                   DST__VMUL(DST__V4ISA, wv[i * kw + j], DST__VLOAD(DST__V4ISA, r + j * q->dw + 4)));
                }
            }
            DST__VSTORE(DST__V4ISA, d + xo, a0);
            DST__VSTORE(DST__V4ISA, d + xo + 4, a1);
        }
        for (; xo + 4 <= xb; xo += 4) {
            dst__v4 a0 = accumulate ? DST__VLOAD(DST__V4ISA, d + xo) : DST__VSET1(DST__V4ISA, b);
            for (i = i0; i < i1; ++i) {
                const float *r = in + (size_t)(top + i * q->dh) * q->iw + (xo - q->pw);
                for (j = 0; j < kw; ++j)
                    a0 = DST__VADD(DST__V4ISA, a0, DST__VMUL(DST__V4ISA, wv[i * kw + j], DST__VLOAD(DST__V4ISA, r + j * q->dw)));
            }
            DST__VSTORE(DST__V4ISA, d + xo, a0);
        }
        for (t = 0; t < q->ow; ++t) { /* the edges and what the vectors left */
            float s;
            if (t == xa) t = xo;
            if (t >= q->ow) break;
            s = accumulate ? d[t] : b;
            for (i = i0; i < i1; ++i)
                for (j = 0; j < kw; ++j) {
                    int col = t + j * q->dw - q->pw;
                    if (col >= 0 && col < q->iw) s += k[i * kw + j] * in[(size_t)(top + i * q->dh) * q->iw + col];
                }
            d[t] = s;
        }
    }
}

/* gk[i][j] += sum over outputs of g[yo][xo] in[yo sh + i dh - ph][xo + j dw - pw]:
   one vector of partial sums per tap. */
/* dst__plane_weight_grad_sse2 / dst__plane_weight_grad_neon */
static void DST__V4NAME(dst__plane_weight_grad)(const dst__plane *q, const float *in, const float *g, float *gk)
{
    dst__v4 acc[DST__PLANE_TAPS];
    float edge[DST__PLANE_TAPS];
    int yo, xo, i, j, i0, i1, xa, xb, t, kw = q->kw, taps = q->kh * q->kw;
    for (t = 0; t < taps; ++t) { acc[t] = DST__VZERO(DST__V4ISA); edge[t] = 0; }
    dst__plane_inner(q, &xa, &xb);
    for (yo = 0; yo < q->oh; ++yo) {
        const float *gr = g + (size_t)yo * q->ow;
        int top = yo * q->sh - q->ph;
        dst__tap_span(q->kh, q->ih, q->dh, top, &i0, &i1);
        for (xo = xa; xo + 4 <= xb; xo += 4) {
            dst__v4 gv = DST__VLOAD(DST__V4ISA, gr + xo);
            for (i = i0; i < i1; ++i) {
                const float *r = in + (size_t)(top + i * q->dh) * q->iw + (xo - q->pw);
                for (j = 0; j < kw; ++j)
                    acc[i * kw + j] = DST__VADD(DST__V4ISA, acc[i * kw + j],
                                                DST__VMUL(DST__V4ISA, gv, DST__VLOAD(DST__V4ISA, r + j * q->dw)));
            }
        }
        for (t = 0; t < q->ow; ++t) {
            if (t == xa) t = xo;
            if (t >= q->ow) break;
            for (i = i0; i < i1; ++i)
                for (j = 0; j < kw; ++j) {
                    int col = t + j * q->dw - q->pw;
                    if (col >= 0 && col < q->iw) edge[i * kw + j] += gr[t] * in[(size_t)(top + i * q->dh) * q->iw + col];
                }
        }
    }
    for (t = 0; t < taps; ++t) gk[t] += dst__v4_sum(acc[t]) + edge[t];
}

#endif

/* The depthwise plane path applies: one input channel per group, stride 1
   across, a kernel of at most DST__PLANE_TAPS taps; for dx also stride 1
   down (dx is then the sweep of dy with the flipped kernel). */
static int dst__plane_path(const dst_conv2d_params *p, int need_dx)
{
    return p->in_c == p->groups && p->stride_w == 1 && p->kernel_h * p->kernel_w <= DST__PLANE_TAPS &&
           (!need_dx || p->stride_h == 1);
}

static dst__plane dst__plane_of(const dst_conv2d_params *p)
{
    dst__plane q;
    q.ih = p->in_h; q.iw = p->in_w; q.oh = dst__conv_out_h(p); q.ow = dst__conv_out_w(p);
    q.kh = p->kernel_h; q.kw = p->kernel_w; q.sh = p->stride_h;
    q.dh = p->dilation_h; q.dw = p->dilation_w; q.ph = p->pad_h; q.pw = p->pad_w;
    return q;
}

/* Any convolution, by row segments (the reference for the plane loops
   above, and the path where they do not apply). */
static void dst__conv2d_forward_direct(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                       const float *bias, float *y)
{
    int hgt = p->in_h, wid = p->in_w, oh = dst__conv_out_h(p), ow = dst__conv_out_w(p), kh = p->kernel_h, kw = p->kernel_w;
    int icg = p->in_c / p->groups, ocg = p->out_c / p->groups, sw = p->stride_w, n, o, c, yo, k, i, j;
    int y0, y1, x0, x1;
    size_t npos = (size_t)oh * ow;
    const dst__kernels *kt = dst__kern();
    int vec = kt->conv_rows;
    if (kt->plane_forward && dst__plane_path(p, 0)) {
        dst__plane q = dst__plane_of(p);
        for (n = 0; n < batch; ++n)
            for (o = 0; o < p->out_c; ++o)
                kt->plane_forward(&q, x + ((size_t)n * p->in_c + (size_t)(o / ocg)) * hgt * wid, w + (size_t)o * kh * kw,
                                  bias ? bias[o] : 0.0f, 0, y + ((size_t)n * p->out_c + o) * npos);
        return;
    }
    for (n = 0; n < batch; ++n)
        for (o = 0; o < p->out_c; ++o) {
            float *out = y + ((size_t)n * p->out_c + o) * npos, b = bias ? bias[o] : 0.0f;
            size_t q;
            for (q = 0; q < npos; ++q) out[q] = b;
            for (c = 0; c < icg; ++c) {
                const float *src = x + ((size_t)n * p->in_c + (size_t)(o / ocg) * icg + c) * hgt * wid;
                const float *wk = w + ((size_t)o * icg + c) * kh * kw;
                for (i = 0; i < kh; ++i) {
                    int th = i * p->dilation_h - p->pad_h;
                    dst__tap_span(oh, hgt, p->stride_h, th, &y0, &y1);
                    for (j = 0; j < kw; ++j) {
                        int tw = j * p->dilation_w - p->pad_w;
                        float a = wk[i * kw + j];
                        dst__tap_span(ow, wid, sw, tw, &x0, &x1);
                        for (yo = y0; yo < y1; ++yo) {
                            const float *s = src + (size_t)(yo * p->stride_h + th) * wid + (x0 * sw + tw);
                            float *d = out + (size_t)yo * ow + x0;
                            if (sw == 1) dst__row_axpy(vec, d, a, s, x1 - x0);
                            else for (k = 0; k < x1 - x0; ++k) d[k] += a * s[(size_t)k * sw];
                        }
                    }
                }
            }
        }
}

static void dst__conv2d_backward_direct(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                        const float *dy, float *dx, float *dw, float *db)
{
    int hgt = p->in_h, wid = p->in_w, oh = dst__conv_out_h(p), ow = dst__conv_out_w(p), kh = p->kernel_h, kw = p->kernel_w;
    int icg = p->in_c / p->groups, ocg = p->out_c / p->groups, sw = p->stride_w, n, o, c, yo, k, i, j;
    int y0, y1, x0, x1;
    size_t npos = (size_t)oh * ow;
    const dst__kernels *kt = dst__kern();
    int vec = kt->conv_rows;
    if (dx) memset(dx, 0, (size_t)batch * p->in_c * hgt * wid * sizeof(float));
    if (dw) memset(dw, 0, (size_t)p->out_c * icg * kh * kw * sizeof(float));
    if (db) memset(db, 0, (size_t)p->out_c * sizeof(float));
    if (kt->plane_forward && dst__plane_path(p, dx != NULL)) {
        dst__plane q = dst__plane_of(p), t = q;
        float flip[DST__PLANE_TAPS];
        /* dx: dy swept by the flipped kernel, stride 1, pads d (k - 1) - pad */
        t.ih = q.oh; t.iw = q.ow; t.oh = hgt; t.ow = wid;
        t.ph = q.dh * (kh - 1) - q.ph; t.pw = q.dw * (kw - 1) - q.pw;
        for (n = 0; n < batch; ++n)
            for (o = 0; o < p->out_c; ++o) {
                const float *g = dy + ((size_t)n * p->out_c + o) * npos, *wk = w + (size_t)o * kh * kw;
                size_t in_off = ((size_t)n * p->in_c + (size_t)(o / ocg)) * hgt * wid;
                if (db) db[o] += dst__row_sum(vec, g, npos);
                if (dw) kt->plane_weight_grad(&q, x + in_off, g, dw + (size_t)o * kh * kw);
                if (dx) {
                    for (k = 0; k < kh * kw; ++k) flip[k] = wk[kh * kw - 1 - k];
                    kt->plane_forward(&t, g, flip, 0.0f, 1, dx + in_off);
                }
            }
        return;
    }
    for (n = 0; n < batch; ++n)
        for (o = 0; o < p->out_c; ++o) {
            const float *g = dy + ((size_t)n * p->out_c + o) * npos;
            if (db) db[o] += dst__row_sum(vec, g, npos);
            for (c = 0; c < icg; ++c) {
                size_t in_off = ((size_t)n * p->in_c + (size_t)(o / ocg) * icg + c) * hgt * wid;
                const float *wk = w + ((size_t)o * icg + c) * kh * kw;
                float *gk = dw ? dw + ((size_t)o * icg + c) * kh * kw : NULL;
                for (i = 0; i < kh; ++i) {
                    int th = i * p->dilation_h - p->pad_h;
                    dst__tap_span(oh, hgt, p->stride_h, th, &y0, &y1);
                    for (j = 0; j < kw; ++j) {
                        int tw = j * p->dilation_w - p->pad_w;
                        float a = wk[i * kw + j], acc = 0;
                        dst__tap_span(ow, wid, sw, tw, &x0, &x1);
                        for (yo = y0; yo < y1; ++yo) {
                            size_t at = in_off + (size_t)(yo * p->stride_h + th) * wid + (size_t)(x0 * sw + tw);
                            const float *r = g + (size_t)yo * ow + x0;
                            if (sw == 1) {
                                if (gk) acc += dst__row_dot(vec, r, x + at, x1 - x0);
                                if (dx) dst__row_axpy(vec, dx + at, a, r, x1 - x0);
                            } else {
                                for (k = 0; k < x1 - x0; ++k) {
                                    if (gk) acc += r[k] * x[at + (size_t)k * sw];
                                    if (dx) dx[at + (size_t)k * sw] += a * r[k];
                                }
                            }
                        }
                        if (gk) gk[i * kw + j] += acc;
                    }
                }
            }
        }
}

/* ---- convolution: the im2col + GEMM path ----------------------------------------
   Per group: Y_g [out_c/G][P] = W_g [out_c/G][K] x col_g [K][P], with
   K = in_c/G * kh * kw and P = out_h * out_w. nb samples per GEMM: their
   column matrices side by side ([K][nb P]) into a [out_c/G][nb P] product
   in work after the columns, copied out to each sample's planes. */

/* Columns of samples [n0, n0 + cnt), group g, side by side (ld = cnt P). */
static void dst__conv_columns(const dst_conv2d_params *p, const float *x, int n0, int cnt, int g, float *col)
{
    int icg = p->in_c / p->groups, npos = dst__conv_out_h(p) * dst__conv_out_w(p), s, c;
    size_t in_plane = (size_t)p->in_h * p->in_w, ld = (size_t)cnt * npos;
    for (s = 0; s < cnt; ++s) {
        const float *xg = x + ((size_t)(n0 + s) * p->in_c + (size_t)g * icg) * in_plane;
        if (dst__conv_pointwise(p))
            for (c = 0; c < icg; ++c) memcpy(col + c * ld + (size_t)s * npos, xg + c * in_plane, (size_t)npos * sizeof(float));
        else dst__im2col_ld(p, icg, xg, col + (size_t)s * npos, ld);
    }
}

static void dst__conv2d_forward_gemm(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                     const float *bias, float *y, float *work, int nb, float *pack)
{
    int ngroups = p->groups, icg = p->in_c / ngroups, ocg = p->out_c / ngroups, kdim = icg * p->kernel_h * p->kernel_w;
    int npos = dst__conv_out_h(p) * dst__conv_out_w(p), n0, g, o, s;
    size_t in_plane = (size_t)p->in_h * p->in_w;
    for (n0 = 0; n0 < batch; n0 += nb) {
        int cnt = batch - n0 < nb ? batch - n0 : nb, ld = cnt * npos;
        for (g = 0; g < ngroups; ++g) {
            const float *wg = w + (size_t)g * ocg * kdim;
            if (cnt == 1) {
                const float *xg = x + ((size_t)n0 * p->in_c + (size_t)g * icg) * in_plane;
                float *yg = y + ((size_t)n0 * p->out_c + (size_t)g * ocg) * npos;
                if (dst__conv_pointwise(p)) dst__gemm(pack, 0, 0, ocg, npos, kdim, 1.0f, wg, kdim, xg, npos, 0.0f, yg, npos);
                else {
                    dst__im2col_ld(p, icg, xg, work, (size_t)npos);
                    dst__gemm(pack, 0, 0, ocg, npos, kdim, 1.0f, wg, kdim, work, npos, 0.0f, yg, npos);
                }
                continue;
            }
            {
                float *prod = work + (size_t)kdim * ld;
                dst__conv_columns(p, x, n0, cnt, g, work);
                dst__gemm(pack, 0, 0, ocg, ld, kdim, 1.0f, wg, kdim, work, ld, 0.0f, prod, ld);
                for (s = 0; s < cnt; ++s)
                    for (o = 0; o < ocg; ++o)
                        memcpy(y + ((size_t)(n0 + s) * p->out_c + (size_t)g * ocg + o) * npos,
                               prod + (size_t)o * ld + (size_t)s * npos, (size_t)npos * sizeof(float));
            }
        }
    }
    if (bias)
        for (n0 = 0; n0 < batch; ++n0)
            for (o = 0; o < p->out_c; ++o)
                dst__row_add_scalar(dst__kern()->conv_rows, y + ((size_t)n0 * p->out_c + o) * npos, bias[o], (size_t)npos);
}

/* dW_g = sum over samples of dY_g col_g^T; dcol = W_g^T dY_g, then col2im
   into dX (a 1x1 convolution of one sample writes dX_g = W_g^T dY_g directly). */
static void dst__conv2d_backward_gemm(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, float *db, float *work, int nb,
                                      float *pack)
{
    int ngroups = p->groups, icg = p->in_c / ngroups, ocg = p->out_c / ngroups, kdim = icg * p->kernel_h * p->kernel_w;
    int npos = dst__conv_out_h(p) * dst__conv_out_w(p), pw = dst__conv_pointwise(p), n0, g, o, s, c;
    size_t in_plane = (size_t)p->in_h * p->in_w;
    int vec = dst__kern()->conv_rows;
    if (db) {
        memset(db, 0, (size_t)p->out_c * sizeof(float));
        for (n0 = 0; n0 < batch; ++n0)
            for (o = 0; o < p->out_c; ++o) db[o] += dst__row_sum(vec, dy + ((size_t)n0 * p->out_c + o) * npos, (size_t)npos);
    }
    if (dx && !(pw && nb == 1)) memset(dx, 0, (size_t)batch * p->in_c * in_plane * sizeof(float));
    for (n0 = 0; n0 < batch; n0 += nb) {
        int cnt = batch - n0 < nb ? batch - n0 : nb, ld = cnt * npos;
        for (g = 0; g < ngroups; ++g) {
            const float *wg = w + (size_t)g * ocg * kdim, *dyg;
            float *prod = work + (size_t)kdim * ld;
            if (cnt == 1) dyg = dy + ((size_t)n0 * p->out_c + (size_t)g * ocg) * npos;
            else {
                for (s = 0; s < cnt; ++s)
                    for (o = 0; o < ocg; ++o)
                        memcpy(prod + (size_t)o * ld + (size_t)s * npos,
                               dy + ((size_t)(n0 + s) * p->out_c + (size_t)g * ocg + o) * npos, (size_t)npos * sizeof(float));
                dyg = prod;
            }
            if (dw) {
                const float *cols = x + ((size_t)n0 * p->in_c + (size_t)g * icg) * in_plane;
                if (!(pw && cnt == 1)) {
                    dst__conv_columns(p, x, n0, cnt, g, work);
                    cols = work;
                }
                dst__gemm(pack, 0, 1, ocg, kdim, ld, 1.0f, dyg, ld, cols, ld, n0 ? 1.0f : 0.0f, dw + (size_t)g * ocg * kdim, kdim);
            }
            if (dx) {
                float *dxg = dx + ((size_t)n0 * p->in_c + (size_t)g * icg) * in_plane;
                if (pw && cnt == 1) {
                    dst__gemm(pack, 1, 0, kdim, npos, ocg, 1.0f, wg, kdim, dyg, npos, 0.0f, dxg, npos);
                    continue;
                }
                dst__gemm(pack, 1, 0, kdim, ld, ocg, 1.0f, wg, kdim, dyg, ld, 0.0f, work, ld);
                for (s = 0; s < cnt; ++s) {
                    float *dxs = dxg + (size_t)s * p->in_c * in_plane;
                    if (pw)
                        for (c = 0; c < icg; ++c) dst__row_add(vec, dxs + c * in_plane, work + c * ld + (size_t)s * npos, npos);
                    else dst__col2im_ld(p, icg, work + (size_t)s * npos, (size_t)ld, dxs);
                }
            }
        }
    }
}

/* ==== Winograd F(2x2, 3x3) =================================== >>winograd
   A 3x3 convolution with stride 1 gives each 2x2 block of outputs from a
   4x4 input tile with 16 products per channel pair instead of 36 (Lavin and
   Gray, "Fast Algorithms for Convolutional Neural Networks", 2015):
     Y = A^T [ (G g G^T) . (B^T d B) ] A,
   summed over input channels as 16 matrix products, one per position e of
   the 4x4 transformed tile: M_e [K][T] = U_e [K][C] x V_e [C][T] (C input
   and K output channels, T tiles).

   A sweep runs the tiles of the whole batch in chunks of N tiles (N a
   multiple of 48, V and M of a chunk at most 576 KB: they stay in L2):
   transform the chunk's input tiles into V, run the 16 products, transform
   M back into output tiles, next chunk. The products call the GEMM's
   micro-kernels directly: U is packed once per call in their A layout,
   and V, written by the input transform with the chunk's tiles
   contiguous, is their B as it lies (no packing per product). A chunk
   may hold the tiles of several samples, so small planes fill it too.

   The transforms (the kernel table's wino_input, wino_output, wino_grad):
   plain C (the reference, and what SSE2 and NEON runs use when asked for
   this path; dst__conv_path_of does not pick Winograd there), AVX-512 for
   16 tiles of a tile row at a time (the even and odd columns of the input
   rows picked by two-source permutes, the edges by masked loads; stores
   whole vectors, or by dst__store_lanes_avx512 at a plane's
   edge: masked stores are slow on some CPUs), and AVX2 for 8 tiles (an
   in-lane shuffle and a 64-bit permute per deinterleave). The transforms
   are a fair part of the time (docs/BENCHMARKS.md), so they are vector
   code.

   The backward's dx is the same sweep over dy (K channels, padded by
   2 - pad) with the filters turned by 180 degrees and their channels
   swapped; dW goes through the same transforms the other way round (its
   own section below). */

/* V and M of one chunk at most this many floats, 576 KB, about half a
   1 MB L2 (the chunk is at least 48 tiles; the speed is flat around this
   size: docs/BENCHMARKS.md) */
#ifndef DST__WINO_CHUNK_FLOATS
#define DST__WINO_CHUNK_FLOATS 147456
#endif

/* One sweep: C planes H x W, padded by ph, pw, to K planes OH x OW. */
struct dst__wino {
    int chans, kdim, hgt, wid, out_hgt, out_wid, ph, pw;
    int tiles_w, ntiles; /* tiles across, per sample */
    int per_chunk;     /* tiles per chunk */
    size_t ld; /* floats from one row of V or M to the next: N + 16, so that a
                  transform may store (or load) whole vectors past its tiles.
                  Rows go channel by channel, and within a channel position
                  by position e (V_e is every 16th row), so a transform
                  writes or reads one sequential stream (as fast as one
                  stream per V_e, with no 4 KB aliasing to avoid) */
};

static dst__wino dst__wino_of(int chans, int kdim, int hgt, int wid, int ph, int pw)
{
    dst__wino q;
    int n = DST__WINO_CHUNK_FLOATS / (16 * (chans + kdim)) / 48 * 48;
    q.chans = chans; q.kdim = kdim; q.hgt = hgt; q.wid = wid; q.ph = ph; q.pw = pw;
    q.out_hgt = hgt + 2 * ph - 2; q.out_wid = wid + 2 * pw - 2;
    q.tiles_w = (q.out_wid + 1) / 2;
    q.ntiles = ((q.out_hgt + 1) / 2) * q.tiles_w;
    q.per_chunk = n < 48 ? 48 : n;
    q.ld = (size_t)q.per_chunk + 16;
    return q;
}

/* floats of U (K rounded up to whole panels of at most 8 rows), V and M */
static size_t dst__wino_floats(const dst__wino *q)
{
    return 16 * ((size_t)(q->kdim + 8) * q->chans + (size_t)(q->chans + q->kdim) * q->ld);
}

/* The forward's sweep, the backward's (dx), dW's, or the column matrix of
   one sample (the fallback of a scalar run), whichever is largest. */
static size_t dst__wino_grad_floats(const dst__wino *q);
static size_t dst__conv_winograd_work(const dst_conv2d_params *p)
{
    dst__wino f = dst__wino_of(p->in_c, p->out_c, p->in_h, p->in_w, p->pad_h, p->pad_w);
    dst__wino b = dst__wino_of(p->out_c, p->in_c, f.out_hgt, f.out_wid, 2 - p->pad_h, 2 - p->pad_w);
    size_t col = (size_t)p->in_c * 9 * (size_t)f.out_hgt * f.out_wid, a = dst__wino_floats(&f), c = dst__wino_floats(&b);
    size_t d = dst__wino_grad_floats(&f);
    if (c > a) a = c;
    if (d > a) a = d;
    return col > a ? col : a;
}

/* The micro-kernels of the active instruction set, or NULL (scalar). */
static const dst__gemm_isa *dst__wino_isa(void)
{
    return dst__kern()->gemm;
}

/* U[e] = G g G^T for each filter g, packed as the micro-kernels read A:
   panels of mr output channels, for each input channel the panel's mr
   values (rows past K zero). w is [K][C][3][3]; with flip, the backward's
   sweep, filter (k, c) is w[c][k] turned by 180 degrees (w [C][K][3][3]). */
static void dst__wino_weights(const float *w, int kdim, int chans, int flip, int mr, float *tu)
{
    int KP = (kdim + mr - 1) / mr * mr, k, c, r, e;
    for (k = 0; k < KP; ++k)
        for (c = 0; c < chans; ++c) {
            float g[9], t[4][3], u[16];
            float *dst = tu + (size_t)(k - k % mr) * chans + (size_t)c * mr + k % mr;
            for (r = 0; r < 9; ++r)
                g[r] = k >= kdim ? 0.0f : flip ? w[((size_t)c * kdim + k) * 9 + 8 - r] : w[((size_t)k * chans + c) * 9 + r];
            for (r = 0; r < 3; ++r) { /* t = G g, column by column */
                t[0][r] = g[r];
                t[1][r] = 0.5f * (g[r] + g[3 + r] + g[6 + r]);
                t[2][r] = 0.5f * (g[r] - g[3 + r] + g[6 + r]);
                t[3][r] = g[6 + r];
            }
            for (r = 0; r < 4; ++r) { /* u = t G^T, row by row */
                u[r * 4 + 0] = t[r][0];
                u[r * 4 + 1] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
                u[r * 4 + 2] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
                u[r * 4 + 3] = t[r][2];
            }
            for (e = 0; e < 16; ++e) dst[(size_t)e * KP * chans] = u[e];
        }
}

/* V[e][c][l] = (B^T d B)[e] for the tiles l < cnt of tile row ty from tile
   tx on, d the 4x4 input tile of channel c of one sample x [C][H][W] (zero
   outside the planes); V's rows ld floats apart. */
static void dst__wino_input_scalar(const dst__wino *q, const float *x, int c0, int c1, int ty, int tx, int cnt,
                                float *tv, size_t ld)
{
    size_t es = ld;
    int c, l, r, s;
    for (c = c0; c < c1; ++c) {
        const float *plane = x + (size_t)c * q->hgt * q->wid;
        for (l = 0; l < cnt; ++l) {
            float d[16], t[16], *o = tv + (size_t)c * 16 * ld + l;
            int y0 = 2 * ty - q->ph, x0 = 2 * (tx + l) - q->pw;
            for (r = 0; r < 4; ++r)
                for (s = 0; s < 4; ++s) {
                    int yy = y0 + r, xx = x0 + s;
                    d[r * 4 + s] = yy >= 0 && yy < q->hgt && xx >= 0 && xx < q->wid ? plane[(size_t)yy * q->wid + xx] : 0.0f;
                }
            for (s = 0; s < 4; ++s) { /* t = B^T d */
                t[0 * 4 + s] = d[0 * 4 + s] - d[2 * 4 + s];
                t[1 * 4 + s] = d[1 * 4 + s] + d[2 * 4 + s];
                t[2 * 4 + s] = d[2 * 4 + s] - d[1 * 4 + s];
                t[3 * 4 + s] = d[1 * 4 + s] - d[3 * 4 + s];
            }
            for (r = 0; r < 4; ++r) { /* t B */
                o[(size_t)(r * 4 + 0) * es] = t[r * 4 + 0] - t[r * 4 + 2];
                o[(size_t)(r * 4 + 1) * es] = t[r * 4 + 1] + t[r * 4 + 2];
                o[(size_t)(r * 4 + 2) * es] = t[r * 4 + 2] - t[r * 4 + 1];
                o[(size_t)(r * 4 + 3) * es] = t[r * 4 + 1] - t[r * 4 + 3];
            }
        }
    }
}

/* y[k] = A^T m A (+ bias[k], then max(0, .) with relu) for the same tiles,
   m = M[.][k][l], into one sample's y [K][OH][OW] (the outputs past OH x OW
   dropped). */
static void dst__wino_output_scalar(const dst__wino *q, const float *mprod, size_t ld, const float *bias, int relu, int k0,
                                 int k1, int ty, int tx, int cnt, float *y)
{
    size_t es = ld;
    int k, l, r, s;
    for (k = k0; k < k1; ++k) {
        float *plane = y + (size_t)k * q->out_hgt * q->out_wid, b = bias ? bias[k] : 0.0f;
        for (l = 0; l < cnt; ++l) {
            const float *m = mprod + (size_t)k * 16 * ld + l;
            float t[8], o[4];
            for (s = 0; s < 4; ++s) { /* t = A^T m */
                t[s] = (m[(size_t)(0 * 4 + s) * es] + m[(size_t)(1 * 4 + s) * es]) + m[(size_t)(2 * 4 + s) * es];
                t[4 + s] = (m[(size_t)(1 * 4 + s) * es] - m[(size_t)(2 * 4 + s) * es]) - m[(size_t)(3 * 4 + s) * es];
            }
            for (r = 0; r < 2; ++r) { /* t A */
                o[r * 2 + 0] = ((t[r * 4 + 0] + t[r * 4 + 1]) + t[r * 4 + 2]) + b;
                o[r * 2 + 1] = ((t[r * 4 + 1] - t[r * 4 + 2]) - t[r * 4 + 3]) + b;
            }
            if (relu)
                for (r = 0; r < 4; ++r) o[r] = o[r] > 0 ? o[r] : 0.0f;
            for (r = 0; r < 2 && 2 * ty + r < q->out_hgt; ++r)
                for (s = 0; s < 2 && 2 * (tx + l) + s < q->out_wid; ++s)
                    plane[(size_t)(2 * ty + r) * q->out_wid + 2 * (tx + l) + s] = o[r * 2 + s];
        }
    }
}

#if defined(DST__SIMD_X86)
/* dst__wino_input_scalar for 16 tiles at a time: input row r of tiles l..l+15
   is columns 2 l - pw .. 2 l - pw + 33, loaded as four vectors (offsets 0,
   16, 2, 18) whose even and odd lanes make the tile columns 0..3; the same
   row two channels on is prefetched (the input comes from memory, and the
   loads are the hot spots). Lanes
   outside the plane are zeroed: a load that would leave the sample's
   planes is a masked expanding load from the first column inside, so no
   address outside them is formed. Every value lives in a named register
   (gcc -O2 kept arrays of vectors on the stack). Planes of at most 8
   tiles across take two whole tile rows per vector (lanes 0-7 and 8-15),
   so that narrow planes (6 or 7 tiles across) fill the lanes. */
#define DST__WI_PART(o, i)                                                                        \
    (!lm[i] ? _mm512_setzero_ps()                                                                 \
     : xb + (o) >= 0 && at + (size_t)(xb + (o)) + 16 <= sample                                    \
         ? (lm[i] == 0xFFFF ? _mm512_loadu_ps(src + xb + (o))                                     \
                            : _mm512_maskz_mov_ps(lm[i], _mm512_loadu_ps(src + xb + (o))))        \
         : _mm512_maskz_expandloadu_ps(lm[i], src + xb + (o) + first[i]))
#define DST__WI_ROW(r, h0, h1, h2, h3)                                                            \
    do {                                                                                          \
        int yy = y0 + (r);                                                                        \
        if (yy < 0 || yy >= q->hgt) h0 = h1 = h2 = h3 = _mm512_setzero_ps();                        \
        else {                                                                                    \
            const float *src = plane + (size_t)yy * q->wid;                                         \
            size_t at = (size_t)c * q->hgt * q->wid + (size_t)yy * q->wid;                              \
            size_t pf = at + 2 * (size_t)q->hgt * q->wid + (size_t)(xb + 2); /* two channels on */    \
            if (pf < sample) _mm_prefetch((const char *)(src - at + pf), _MM_HINT_T0);           \
            if (pf + 16 < sample) _mm_prefetch((const char *)(src - at + pf + 16), _MM_HINT_T0); \
            if (pf + 31 < sample) _mm_prefetch((const char *)(src - at + pf + 31), _MM_HINT_T0); \
            __m512 a = DST__WI_PART(0, 0), b = DST__WI_PART(16, 1);                               \
            __m512 a2 = DST__WI_PART(2, 2), b2 = DST__WI_PART(18, 3);                             \
            __m512 e0 = _mm512_permutex2var_ps(a, even, b), e1 = _mm512_permutex2var_ps(a, odd, b); \
            __m512 e2 = _mm512_permutex2var_ps(a2, even, b2), e3 = _mm512_permutex2var_ps(a2, odd, b2); \
            h0 = _mm512_sub_ps(e0, e2); /* h = d B */                                             \
            h1 = _mm512_add_ps(e1, e2);                                                           \
            h2 = _mm512_sub_ps(e2, e1);                                                           \
            h3 = _mm512_sub_ps(e1, e3);                                                           \
        }                                                                                         \
    } while (0)
#define DST__WI_COL(j, x0, x1, x2, x3) /* column j of B^T h, stored past cnt too: the next run's, or padding */ \
    _mm512_storeu_ps(o + (size_t)(0 * 4 + (j)) * es, _mm512_sub_ps(x0, x2));                      \
    _mm512_storeu_ps(o + (size_t)(1 * 4 + (j)) * es, _mm512_add_ps(x1, x2));                      \
    _mm512_storeu_ps(o + (size_t)(2 * 4 + (j)) * es, _mm512_sub_ps(x2, x1));                      \
    _mm512_storeu_ps(o + (size_t)(3 * 4 + (j)) * es, _mm512_sub_ps(x1, x3))
/* 16 columns from col of row yy of channel c of one sample (sb, sample
   floats), the lanes outside the plane (mask lm, first lane inside: first)
   zero; a macro, as the function was not inlined. */
#define DST__WI_AT(yy) (((size_t)c * q->hgt + (size_t)(yy)) * q->wid)
#define DST__WI_PART2(yy, col, lm, first)                                                         \
    ((yy) < 0 || (yy) >= q->hgt || !(lm) ? _mm512_setzero_ps()                                      \
     : (col) < 0 || DST__WI_AT(yy) + (size_t)(col) + 16 > sample                                  \
         ? _mm512_maskz_expandloadu_ps(lm, sb + DST__WI_AT(yy) + (col) + (first))                 \
     : (lm) == 0xFFFF ? _mm512_loadu_ps(sb + DST__WI_AT(yy) + (col))                              \
                      : _mm512_maskz_mov_ps(lm, _mm512_loadu_ps(sb + DST__WI_AT(yy) + (col))))

/* Two tile rows ty, ty + 1 of tw <= 8 tiles each, channel c: lanes 0-7 the
   first, 8-15 the second; V's positions j.. and j + tw.. */
#define DST__WI_ROW2(r, h0, h1, h2, h3)                                                           \
    do {                                                                                          \
        __m512 a = DST__WI_PART2(y0 + (r), xb, m0, f0);                                           \
        __m512 b = DST__WI_PART2(y0 + 2 + (r), xb, m0, f0);                                       \
        __m512 a2 = DST__WI_PART2(y0 + (r), xb + 2, m2, f2);                                      \
        __m512 b2 = DST__WI_PART2(y0 + 2 + (r), xb + 2, m2, f2);                                  \
        __m512 e0 = _mm512_permutex2var_ps(a, even, b), e1 = _mm512_permutex2var_ps(a, odd, b);   \
        __m512 e2 = _mm512_permutex2var_ps(a2, even, b2), e3 = _mm512_permutex2var_ps(a2, odd, b2); \
        h0 = _mm512_sub_ps(e0, e2);                                                               \
        h1 = _mm512_add_ps(e1, e2);                                                               \
        h2 = _mm512_sub_ps(e2, e1);                                                               \
        h3 = _mm512_sub_ps(e1, e3);                                                               \
    } while (0)
#define DST__WI_HALF(v, i) _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, _mm512_castps_pd(v), i))
#define DST__WI_PUT2(e, v) /* the first row's half, then the second's (over the first's spill) */ \
    { __m512 v_ = v;                                                                              \
      _mm256_storeu_ps(o + (size_t)(e) * es, DST__WI_HALF(v_, 0));                                \
      _mm256_storeu_ps(o + (size_t)(e) * es + tw, DST__WI_HALF(v_, 1)); }
#define DST__WI_COL2(j, x0, x1, x2, x3)                                                           \
    DST__WI_PUT2(0 * 4 + (j), _mm512_sub_ps(x0, x2))                                              \
    DST__WI_PUT2(1 * 4 + (j), _mm512_add_ps(x1, x2))                                              \
    DST__WI_PUT2(2 * 4 + (j), _mm512_sub_ps(x2, x1))                                              \
    DST__WI_PUT2(3 * 4 + (j), _mm512_sub_ps(x1, x3))
static DST__TARGET("avx512f") void dst__wino_input_avx512(const dst__wino *q, const float *x, size_t g0, int cnt,
                                                           float *tv)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    static const int off[4] = { 0, 16, 2, 18 };
    size_t es = q->ld, sample = (size_t)q->chans * q->hgt * q->wid;
    int l0, c, i, j;
    for (c = 0; c < q->chans; ++c)
        for (j = 0; j < cnt;) {
            size_t g = g0 + (size_t)j;
            int t = (int)(g % (size_t)q->ntiles), ty = t / q->tiles_w, tx = t % q->tiles_w, run = q->tiles_w - tx < cnt - j ? q->tiles_w - tx : cnt - j;
            const float *plane = x + (g / (size_t)q->ntiles) * sample + (size_t)c * q->hgt * q->wid;
            if (q->tiles_w <= 8 && tx == 0 && run == q->tiles_w && cnt - j >= 2 * q->tiles_w && t + q->tiles_w < q->ntiles) {
                const float *sb = x + (g / (size_t)q->ntiles) * sample;
                int tw = q->tiles_w, xb = -q->pw, y0 = 2 * ty - q->ph, f0 = xb < 0 ? -xb : 0, f2 = xb + 2 < 0 ? -(xb + 2) : 0;
                __mmask16 m0 = (__mmask16)dst__lanes(-xb, q->wid - xb), m2 = (__mmask16)dst__lanes(-(xb + 2), q->wid - (xb + 2));
                float *o = tv + (size_t)c * 16 * q->ld + j;
                __m512 h00, h01, h02, h03, h10, h11, h12, h13, h20, h21, h22, h23, h30, h31, h32, h33;
                DST__WI_ROW2(0, h00, h01, h02, h03);
                DST__WI_ROW2(1, h10, h11, h12, h13);
                DST__WI_ROW2(2, h20, h21, h22, h23);
                DST__WI_ROW2(3, h30, h31, h32, h33);
                DST__WI_COL2(0, h00, h10, h20, h30)
                DST__WI_COL2(1, h01, h11, h21, h31)
                DST__WI_COL2(2, h02, h12, h22, h32)
                DST__WI_COL2(3, h03, h13, h23, h33)
                j += 2 * tw;
                continue;
            }
            for (l0 = 0; l0 < run; l0 += 16) {
                int xb = 2 * (tx + l0) - q->pw, y0 = 2 * ty - q->ph, first[4];
                float *o = tv + (size_t)c * 16 * q->ld + j + l0;
                __mmask16 lm[4];
                __m512 h00, h01, h02, h03, h10, h11, h12, h13, h20, h21, h22, h23, h30, h31, h32, h33;
                for (i = 0; i < 4; ++i) {
                    int col = xb + off[i];
                    first[i] = col < 0 ? -col : 0;
                    lm[i] = (__mmask16)dst__lanes(-col, q->wid - col);
                }
                DST__WI_ROW(0, h00, h01, h02, h03);
                DST__WI_ROW(1, h10, h11, h12, h13);
                DST__WI_ROW(2, h20, h21, h22, h23);
                DST__WI_ROW(3, h30, h31, h32, h33);
                DST__WI_COL(0, h00, h10, h20, h30);
                DST__WI_COL(1, h01, h11, h21, h31);
                DST__WI_COL(2, h02, h12, h22, h32);
                DST__WI_COL(3, h03, h13, h23, h33);
            }
            j += run;
        }
}
#undef DST__WI_PART
#undef DST__WI_ROW
#undef DST__WI_COL
#undef DST__WI_ROW2
#undef DST__WI_AT
#undef DST__WI_PART2
#undef DST__WI_HALF
#undef DST__WI_PUT2
#undef DST__WI_COL2

/* The first n (0..16) lanes of v to p, by 512-, 256-, 128-bit and single
   stores: a masked store is several times slower on some CPUs. */
static DST__TARGET("avx512f") void dst__store_lanes_avx512(float *p, __m512 v, int n)
{
    __m256 h;
    __m128 x;
    if (n >= 16) {
        _mm512_storeu_ps(p, v);
        return;
    }
    /* (masked extracts: GCC 12 warns in C++ on the unmasked forms and the cast) */
    h = _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, _mm512_castps_pd(v), 0));
    if (n >= 8) {
        _mm256_storeu_ps(p, h);
        h = _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, _mm512_castps_pd(v), 1));
        p += 8;
        n -= 8;
    }
    x = _mm256_castps256_ps128(h);
    if (n >= 4) {
        _mm_storeu_ps(p, x);
        x = _mm256_extractf128_ps(h, 1);
        p += 4;
        n -= 4;
    }
    for (; n > 0; --n, ++p) {
        _mm_store_ss(p, x);
        x = _mm_shuffle_ps(x, x, _MM_SHUFFLE(0, 3, 2, 1));
    }
}

/* dst__wino_output_scalar for 16 tiles at a time, row by row of m into the
   two rows of t = A^T m; the two output columns of each tile interleaved
   by two-source permutes. Planes of at most 8 tiles across: two tile rows
   per vector, as in the input transform. */
#define DST__WO_LOAD(r, j) _mm512_loadu_ps(src + (size_t)((r) * 4 + (j)) * es) /* rows have 16 floats to spare */
static DST__TARGET("avx512f") void dst__wino_output_avx512(const dst__wino *q, const float *mprod, const float *bias,
                                                            int relu, size_t g0, int cnt, float *y)
{
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    size_t es = q->ld, plane = (size_t)q->out_hgt * q->out_wid;
    int l0, k, j;
    for (k = 0; k < q->kdim; ++k) {
        __m512 b = _mm512_set1_ps(bias ? bias[k] : 0.0f);
        for (j = 0; j < cnt;) {
            size_t g = g0 + (size_t)j;
            int t = (int)(g % (size_t)q->ntiles), ty = t / q->tiles_w, tx = t % q->tiles_w, run = q->tiles_w - tx < cnt - j ? q->tiles_w - tx : cnt - j;
            float *out = y + ((g / (size_t)q->ntiles) * q->kdim + (size_t)k) * plane + (size_t)(2 * ty) * q->out_wid;
            if (q->tiles_w <= 8 && tx == 0 && run == q->tiles_w && cnt - j >= 2 * q->tiles_w && t + q->tiles_w < q->ntiles) {
                /* two tile rows of at most 8 tiles: lanes 0-7 and 8-15 (as the input transform) */
                const float *src = mprod + (size_t)k * 16 * q->ld + j;
                int tw = q->tiles_w, n = q->out_wid;
                __m512 o0, o1, t00, t01, t02, t03, t10, t11, t12, t13, m0v, m1v, m2v, m3v;
#define DST__WO_LOAD2(r, c) _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(0x00FF, src + (size_t)((r) * 4 + (c)) * es), \
                                                 0xFF00, src + (size_t)((r) * 4 + (c)) * es + tw - 8)
                t00 = DST__WO_LOAD2(0, 0); t01 = DST__WO_LOAD2(0, 1); t02 = DST__WO_LOAD2(0, 2); t03 = DST__WO_LOAD2(0, 3);
                t10 = DST__WO_LOAD2(1, 0); t11 = DST__WO_LOAD2(1, 1); t12 = DST__WO_LOAD2(1, 2); t13 = DST__WO_LOAD2(1, 3);
                m0v = DST__WO_LOAD2(2, 0); m1v = DST__WO_LOAD2(2, 1); m2v = DST__WO_LOAD2(2, 2); m3v = DST__WO_LOAD2(2, 3);
                t00 = _mm512_add_ps(_mm512_add_ps(t00, t10), m0v); t10 = _mm512_sub_ps(t10, m0v);
                t01 = _mm512_add_ps(_mm512_add_ps(t01, t11), m1v); t11 = _mm512_sub_ps(t11, m1v);
                t02 = _mm512_add_ps(_mm512_add_ps(t02, t12), m2v); t12 = _mm512_sub_ps(t12, m2v);
                t03 = _mm512_add_ps(_mm512_add_ps(t03, t13), m3v); t13 = _mm512_sub_ps(t13, m3v);
                t10 = _mm512_sub_ps(t10, DST__WO_LOAD2(3, 0));
                t11 = _mm512_sub_ps(t11, DST__WO_LOAD2(3, 1));
                t12 = _mm512_sub_ps(t12, DST__WO_LOAD2(3, 2));
                t13 = _mm512_sub_ps(t13, DST__WO_LOAD2(3, 3));
#undef DST__WO_LOAD2
                o0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(t00, t01), t02), b);
                o1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(t01, t02), t03), b);
                if (relu) {
                    o0 = _mm512_mask_max_ps(o0, 0xFFFF, o0, _mm512_setzero_ps());
                    o1 = _mm512_mask_max_ps(o1, 0xFFFF, o1, _mm512_setzero_ps());
                }
                dst__store_lanes_avx512(out, _mm512_permutex2var_ps(o0, lo, o1), n);              /* row 2 ty */
                dst__store_lanes_avx512(out + 2 * q->out_wid, _mm512_permutex2var_ps(o0, hi, o1), n);  /* row 2 ty + 2 */
                o0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(t10, t11), t12), b);
                o1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(t11, t12), t13), b);
                if (relu) {
                    o0 = _mm512_mask_max_ps(o0, 0xFFFF, o0, _mm512_setzero_ps());
                    o1 = _mm512_mask_max_ps(o1, 0xFFFF, o1, _mm512_setzero_ps());
                }
                dst__store_lanes_avx512(out + q->out_wid, _mm512_permutex2var_ps(o0, lo, o1), n);      /* row 2 ty + 1 */
                if (2 * ty + 3 < q->out_hgt) dst__store_lanes_avx512(out + 3 * q->out_wid, _mm512_permutex2var_ps(o0, hi, o1), n);
                j += 2 * tw;
                continue;
            }
            for (l0 = 0; l0 < run; l0 += 16) {
                int xo = 2 * (tx + l0), n = q->out_wid - xo < 2 * (run - l0) ? q->out_wid - xo : 2 * (run - l0);
                const float *src = mprod + (size_t)k * 16 * q->ld + j + l0;
                float *row = out + xo;
                __m512 o0, o1;
                if (k + 2 < q->kdim) { /* the same rows two channels on */
                    _mm_prefetch((const char *)(row + 2 * plane), _MM_HINT_T0);
                    if (n > 16) _mm_prefetch((const char *)(row + 2 * plane + 16), _MM_HINT_T0);
                    if (2 * ty + 1 < q->out_hgt) {
                        _mm_prefetch((const char *)(row + 2 * plane + q->out_wid), _MM_HINT_T0);
                        if (n > 16) _mm_prefetch((const char *)(row + 2 * plane + q->out_wid + 16), _MM_HINT_T0);
                    }
                }
                __m512 t00 = DST__WO_LOAD(0, 0), t01 = DST__WO_LOAD(0, 1), t02 = DST__WO_LOAD(0, 2), t03 = DST__WO_LOAD(0, 3);
                __m512 t10 = DST__WO_LOAD(1, 0), t11 = DST__WO_LOAD(1, 1), t12 = DST__WO_LOAD(1, 2), t13 = DST__WO_LOAD(1, 3);
                __m512 m0v = DST__WO_LOAD(2, 0), m1v = DST__WO_LOAD(2, 1), m2v = DST__WO_LOAD(2, 2), m3v = DST__WO_LOAD(2, 3);
                t00 = _mm512_add_ps(_mm512_add_ps(t00, t10), m0v); t10 = _mm512_sub_ps(t10, m0v);
                t01 = _mm512_add_ps(_mm512_add_ps(t01, t11), m1v); t11 = _mm512_sub_ps(t11, m1v);
                t02 = _mm512_add_ps(_mm512_add_ps(t02, t12), m2v); t12 = _mm512_sub_ps(t12, m2v);
                t03 = _mm512_add_ps(_mm512_add_ps(t03, t13), m3v); t13 = _mm512_sub_ps(t13, m3v);
                t10 = _mm512_sub_ps(t10, DST__WO_LOAD(3, 0));
                t11 = _mm512_sub_ps(t11, DST__WO_LOAD(3, 1));
                t12 = _mm512_sub_ps(t12, DST__WO_LOAD(3, 2));
                t13 = _mm512_sub_ps(t13, DST__WO_LOAD(3, 3));
                /* o = t A: output columns 0 and 1 of each tile */
                o0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(t00, t01), t02), b);
                o1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(t01, t02), t03), b);
                if (relu) { /* max(v, 0) is 0 for a NaN v, like v > 0 ? v : 0 (the masked form:
                               GCC 12 warns in C++ on the unmasked one) */
                    o0 = _mm512_mask_max_ps(o0, 0xFFFF, o0, _mm512_setzero_ps());
                    o1 = _mm512_mask_max_ps(o1, 0xFFFF, o1, _mm512_setzero_ps());
                }
                dst__store_lanes_avx512(row, _mm512_permutex2var_ps(o0, lo, o1), n);
                if (n > 16) dst__store_lanes_avx512(row + 16, _mm512_permutex2var_ps(o0, hi, o1), n - 16);
                if (2 * ty + 1 < q->out_hgt) {
                    o0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(t10, t11), t12), b);
                    o1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(t11, t12), t13), b);
                    if (relu) {
                        o0 = _mm512_mask_max_ps(o0, 0xFFFF, o0, _mm512_setzero_ps());
                        o1 = _mm512_mask_max_ps(o1, 0xFFFF, o1, _mm512_setzero_ps());
                    }
                    row += q->out_wid;
                    dst__store_lanes_avx512(row, _mm512_permutex2var_ps(o0, lo, o1), n);
                    if (n > 16) dst__store_lanes_avx512(row + 16, _mm512_permutex2var_ps(o0, hi, o1), n - 16);
                }
            }
            j += run;
        }
    }
}
#undef DST__WO_LOAD

/* ---- the same transforms with AVX2, 8 tiles at a time ----
   The even and odd lanes of 16 columns by an in-lane shuffle and a 64-bit
   permute; a row segment that would leave the sample's planes goes through
   a zeroed 8-float copy (the edges only). */

static DST__TARGET("avx2,fma") void dst__wino_input_avx2(const dst__wino *q, const float *x, size_t g0, int cnt, float *tv)
{
    size_t es = q->ld, sample = (size_t)q->chans * q->hgt * q->wid, hw = (size_t)q->hgt * q->wid;
    int l0, c, j, r, s;
    for (c = 0; c < q->chans; ++c)
        for (j = 0; j < cnt;) {
            size_t g = g0 + (size_t)j;
            int t = (int)(g % (size_t)q->ntiles), ty = t / q->tiles_w, tx = t % q->tiles_w, run = q->tiles_w - tx < cnt - j ? q->tiles_w - tx : cnt - j;
            const float *base = x + (g / (size_t)q->ntiles) * sample;
            for (l0 = 0; l0 < run; l0 += 8) {
                int xb = 2 * (tx + l0) - q->pw, y0 = 2 * ty - q->ph;
                float *o = tv + (size_t)c * 16 * q->ld + j + l0;
                __m256 h[4][4];
                for (r = 0; r < 4; ++r) {
                    int yy = y0 + r;
                    if (yy < 0 || yy >= q->hgt) {
                        h[r][0] = h[r][1] = h[r][2] = h[r][3] = _mm256_setzero_ps();
                    } else {
                        size_t off = (size_t)c * hw + (size_t)yy * q->wid;
                        const float *row = base + off;
                        __m256 a = dst__row_avx2(row, off, sample, xb, q->wid), b = dst__row_avx2(row, off, sample, xb + 8, q->wid);
                        __m256 a2 = dst__row_avx2(row, off, sample, xb + 2, q->wid), b2 = dst__row_avx2(row, off, sample, xb + 10, q->wid);
                        __m256 e0 = DST__VEVEN_avx2(a, b), e1 = DST__VODD_avx2(a, b), e2 = DST__VEVEN_avx2(a2, b2), e3 = DST__VODD_avx2(a2, b2);
                        h[r][0] = _mm256_sub_ps(e0, e2); /* h = d B */
                        h[r][1] = _mm256_add_ps(e1, e2);
                        h[r][2] = _mm256_sub_ps(e2, e1);
                        h[r][3] = _mm256_sub_ps(e1, e3);
                    }
                }
                for (s = 0; s < 4; ++s) { /* B^T h, stored past the run too: the next run's, or padding */
                    _mm256_storeu_ps(o + (size_t)(0 * 4 + s) * es, _mm256_sub_ps(h[0][s], h[2][s]));
                    _mm256_storeu_ps(o + (size_t)(1 * 4 + s) * es, _mm256_add_ps(h[1][s], h[2][s]));
                    _mm256_storeu_ps(o + (size_t)(2 * 4 + s) * es, _mm256_sub_ps(h[2][s], h[1][s]));
                    _mm256_storeu_ps(o + (size_t)(3 * 4 + s) * es, _mm256_sub_ps(h[1][s], h[3][s]));
                }
            }
            j += run;
        }
}

/* The first n (0..8) lanes of v to p. */
static DST__TARGET("avx2,fma") void dst__store8_avx2(float *p, __m256 v, int n)
{
    float t[8];
    int i;
    if (n >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    _mm256_storeu_ps(t, v);
    for (i = 0; i < n; ++i) p[i] = t[i];
}

static DST__TARGET("avx2,fma") void dst__wino_output_avx2(const dst__wino *q, const float *mprod, const float *bias,
                                                          int relu, size_t g0, int cnt, float *y)
{
    size_t es = q->ld, plane = (size_t)q->out_hgt * q->out_wid;
    int l0, k, j, r, s;
    for (k = 0; k < q->kdim; ++k) {
        __m256 b = _mm256_set1_ps(bias ? bias[k] : 0.0f);
        for (j = 0; j < cnt;) {
            size_t g = g0 + (size_t)j;
            int t = (int)(g % (size_t)q->ntiles), ty = t / q->tiles_w, tx = t % q->tiles_w, run = q->tiles_w - tx < cnt - j ? q->tiles_w - tx : cnt - j;
            float *out = y + ((g / (size_t)q->ntiles) * q->kdim + (size_t)k) * plane + (size_t)(2 * ty) * q->out_wid;
            for (l0 = 0; l0 < run; l0 += 8) {
                int xo = 2 * (tx + l0), n = q->out_wid - xo < 2 * (run - l0) ? q->out_wid - xo : 2 * (run - l0);
                const float *src = mprod + (size_t)k * 16 * q->ld + j + l0;
                __m256 tt[2][4];
                for (s = 0; s < 4; ++s) { /* t = A^T m (rows have 16 floats to spare) */
                    __m256 m0 = _mm256_loadu_ps(src + (size_t)(0 * 4 + s) * es), m1 = _mm256_loadu_ps(src + (size_t)(1 * 4 + s) * es);
                    __m256 m2 = _mm256_loadu_ps(src + (size_t)(2 * 4 + s) * es), m3 = _mm256_loadu_ps(src + (size_t)(3 * 4 + s) * es);
                    tt[0][s] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
                    tt[1][s] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
                }
                for (r = 0; r < 2 && 2 * ty + r < q->out_hgt; ++r) { /* o = t A, the two columns interleaved */
                    __m256 o0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(tt[r][0], tt[r][1]), tt[r][2]), b);
                    __m256 o1 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(tt[r][1], tt[r][2]), tt[r][3]), b);
                    __m256 lo, hi;
                    if (relu) { /* max(v, 0) is 0 for a NaN v, like v > 0 ? v : 0 */
                        o0 = _mm256_max_ps(o0, _mm256_setzero_ps());
                        o1 = _mm256_max_ps(o1, _mm256_setzero_ps());
                    }
                    lo = _mm256_unpacklo_ps(o0, o1);
                    hi = _mm256_unpackhi_ps(o0, o1);
                    float *row = out + (size_t)r * q->out_wid + xo;
                    dst__store8_avx2(row, _mm256_permute2f128_ps(lo, hi, 0x20), n);
                    if (n > 8) dst__store8_avx2(row + 8, _mm256_permute2f128_ps(lo, hi, 0x31), n - 8);
                }
            }
            j += run;
        }
    }
}

#endif

/* The input transform of the chunk's cnt tiles from tile g0 (of the whole
   batch x) into V: channel by channel, so that each line of V is written
   whole before the next, and run by run of tiles in one tile row. A short
   chunk's columns up to the next 16 are zeroed: the micro-kernels read
   whole vectors. */
static void dst__wino_inputs(const dst__wino *q, const dst__kernels *kt, const float *x, size_t g0, int cnt, float *tv)
{
    int c, j, e, padded = (cnt + 15) / 16 * 16;
    if (kt->wino_input) kt->wino_input(q, x, g0, cnt, tv);
    else
    for (c = 0; c < q->chans; ++c)
        for (j = 0; j < cnt;) {
            size_t g = g0 + (size_t)j;
            int t = (int)(g % (size_t)q->ntiles), ty = t / q->tiles_w, tx = t % q->tiles_w, run = q->tiles_w - tx < cnt - j ? q->tiles_w - tx : cnt - j;
            dst__wino_input_scalar(q, x + (g / (size_t)q->ntiles) * q->chans * q->hgt * q->wid, c, c + 1, ty, tx, run, tv + j, q->ld);
            j += run;
        }
    if (padded > cnt)
        for (e = 0; e < 16; ++e)
            for (c = 0; c < q->chans; ++c) memset(tv + ((size_t)c * 16 + e) * q->ld + cnt, 0, (size_t)(padded - cnt) * sizeof(float));
}

/* The output transform of the chunk's cnt tiles from mt (M) into y (one batch
   [K][OH][OW] per sample): channel by channel and run by run. */
static void dst__wino_outputs(const dst__wino *q, const dst__kernels *kt, const float *mt, const float *bias, int relu,
                              size_t g0, int cnt, float *y)
{
    size_t out_sample = (size_t)q->kdim * q->out_hgt * q->out_wid;
    int k, j;
    if (kt->wino_output) {
        kt->wino_output(q, mt, bias, relu, g0, cnt, y);
        return;
    }
    for (k = 0; k < q->kdim; ++k)
        for (j = 0; j < cnt;) {
            size_t g = g0 + (size_t)j;
            int t = (int)(g % (size_t)q->ntiles), ty = t / q->tiles_w, tx = t % q->tiles_w, run = q->tiles_w - tx < cnt - j ? q->tiles_w - tx : cnt - j;
            dst__wino_output_scalar(q, mt + j, q->ld, bias, relu, k, k + 1, ty, tx, run, y + (g / (size_t)q->ntiles) * out_sample);
            j += run;
        }
}

/* The sweep over batch samples x [C][H][W] into y [K][OH][OW], chunk by
   chunk (see above). U from dst__wino_weights with isa->mr; V and M: a
   chunk's (16 C ld and 16 K ld floats). */
static void dst__wino_sweep(const dst__wino *q, const dst__gemm_isa *isa, int batch, const float *x, const float *tu,
                            const float *bias, int relu, float *y, float *tv, float *mprod)
{
    size_t total = (size_t)batch * q->ntiles, g0, per_chunk = (size_t)q->per_chunk, ld = q->ld;
    int mr = isa->mr, w = isa->w, nr = isa->nvmax * isa->w, chans = q->chans, kdim = q->kdim, KP = (kdim + mr - 1) / mr * mr;
    const dst__kernels *kt = dst__kernels_for(isa->level); /* the transforms of the micro-kernels' level */
    size_t first = total < per_chunk ? total : per_chunk, r;
    /* The output transforms load whole vectors of M, up to 15 floats past a
       chunk's tiles (into the spare columns of ld). The micro-kernels write
       only the tiles, and no chunk has more than the first, so the 16
       columns past the first chunk's tiles are zeroed once: every float a
       transform loads has been written (MemorySanitizer checks it). */
    for (r = 0; r < 16 * (size_t)kdim; ++r) memset(mprod + r * ld + first, 0, 16 * sizeof(float));
    for (g0 = 0; g0 < total; g0 += per_chunk) {
        int cnt = total - g0 < per_chunk ? (int)(total - g0) : (int)per_chunk, e, i0, jj;
        dst__wino_inputs(q, kt, x, g0, cnt, tv);
        for (e = 0; e < 16; ++e) { /* M_e = U_e V_e, tile by tile of the micro-kernels */
            const float *Ue = tu + (size_t)e * KP * chans, *Ve = tv + e * ld;
            float *Me = mprod + e * ld;
            for (i0 = 0; i0 < kdim; i0 += mr) {
                int rows = kdim - i0 < mr ? kdim - i0 : mr;
                for (jj = 0; jj < cnt; jj += nr) {
                    int cols = cnt - jj < nr ? cnt - jj : nr, nv = (cols + w - 1) / w;
                    float *ct = Me + (size_t)i0 * 16 * ld + jj;
                    if (rows == mr) isa->kernel[0][nv - 1](chans, Ue + (size_t)i0 * chans, Ve + jj, (int)(16 * ld), ct, (int)(16 * ld), 1.0f, 0.0f, cols,
                                                           NULL, 0, NULL);
                    else { /* a short panel: 4 + 2 + 1 rows as it needs */
                        int r0 = 0, s, sizes[3] = { 4, 2, 1 };
                        for (s = 0; s < 3; ++s)
                            if (rows & sizes[s]) {
                                isa->kernel[s + 1][nv - 1](chans, Ue + (size_t)i0 * chans + r0, Ve + jj, (int)(16 * ld),
                                                           ct + (size_t)r0 * 16 * ld, (int)(16 * ld), 1.0f, 0.0f, cols,
                                                           NULL, 0, NULL);
                                r0 += sizes[s];
                            }
                    }
                }
            }
        }
        dst__wino_outputs(q, kt, mprod, bias, relu, g0, cnt, y);
    }
}

/* ---- Winograd for dW ----
   The forward's products are M_e = U_e V_e with U = G g G^T, so
   dU_e = dM_e V_e^T summed over the tiles, with dM = A dY A^T the output
   transform turned around (dY a tile's 2x2 block of dy, zero past the
   plane), and dW = G^T dU G. Per chunk: V from x as in the forward, dM
   from dy, 16 GEMMs dU_e += dM_e V_e^T (k = the chunk's tiles). */

/* dM[e][k][l] = (A dY A^T)[e] for the chunk's tiles, dy [batch][K][OH][OW]. */
static void dst__wino_grad_scalar(const dst__wino *q, const float *dy, size_t g0, int cnt, float *td)
{
    int k, j, r, s;
    for (k = 0; k < q->kdim; ++k)
        for (j = 0; j < cnt; ++j) {
            size_t g = g0 + (size_t)j;
            int t = (int)(g % (size_t)q->ntiles), y0 = 2 * (t / q->tiles_w), x0 = 2 * (t % q->tiles_w);
            const float *plane = dy + ((g / (size_t)q->ntiles) * q->kdim + (size_t)k) * q->out_hgt * q->out_wid;
            float h[2][4], *o = td + (size_t)k * 16 * q->ld + j;
            for (r = 0; r < 2; ++r) { /* h = dY A^T, row by row */
                float a = 0, b = 0;
                if (y0 + r < q->out_hgt) {
                    a = plane[(size_t)(y0 + r) * q->out_wid + x0];
                    b = x0 + 1 < q->out_wid ? plane[(size_t)(y0 + r) * q->out_wid + x0 + 1] : 0.0f;
                }
                h[r][0] = a; h[r][1] = a + b; h[r][2] = a - b; h[r][3] = 0.0f - b;
            }
            for (s = 0; s < 4; ++s) { /* A h */
                o[(size_t)(0 * 4 + s) * q->ld] = h[0][s];
                o[(size_t)(1 * 4 + s) * q->ld] = h[0][s] + h[1][s];
                o[(size_t)(2 * 4 + s) * q->ld] = h[0][s] - h[1][s];
                o[(size_t)(3 * 4 + s) * q->ld] = 0.0f - h[1][s];
            }
        }
}

#if defined(DST__SIMD_X86)
/* dst__wino_grad_scalar a vector of tiles at a time, written once over the
   vector vocabulary (it generates dst__wino_grad_run_avx2 and
   dst__wino_grad_run_avx512): the two columns of each tile's rows are the
   even and odd lanes of two vectors of dy's row (DST__VROW loads them, zero
   past the row), and the same row two channels on is prefetched. One call
   does one run of tiles in one tile row of channel k; the columns past the
   run are stored too (the next run's, or padding). */
#define DST__WINO_GRAD_RUN(isa)                                                                             \
    static DST__VATTR(isa) void dst__wino_grad_run_##isa(const dst__wino *q, const float *base, size_t sample, \
                                                          int k, int ty, int tx, int run, float *o)         \
    {                                                                                                       \
        const DST__VEC(isa) z = DST__VZERO(isa);                                                            \
        size_t es = q->ld, plane = (size_t)q->out_hgt * q->out_wid;                                         \
        int l0, r, s;                                                                                       \
        for (l0 = 0; l0 < run; l0 += DST__VW(isa)) {                                                        \
            int xo = 2 * (tx + l0);                                                                         \
            DST__VEC(isa) h[2][4];                                                                          \
            for (r = 0; r < 2; ++r) {                                                                       \
                int yy = 2 * ty + r;                                                                        \
                size_t off = (size_t)k * plane + (size_t)yy * q->out_wid;                                   \
                DST__VEC(isa) a = z, b = z, e0, e1;                                                         \
                if (yy < q->out_hgt) {                                                                      \
                    if (off + (size_t)xo + 2 * plane < sample) DST__PREFETCH_R(base + off + xo + 2 * plane); \
                    a = DST__VROW(isa, base + off, off, sample, xo, q->out_wid);                            \
                    b = DST__VROW(isa, base + off, off, sample, xo + DST__VW(isa), q->out_wid);             \
                }                                                                                           \
                e0 = DST__VEVEN(isa, a, b);                                                                 \
                e1 = DST__VODD(isa, a, b);                                                                  \
                h[r][0] = e0;                                                                               \
                h[r][1] = DST__VADD(isa, e0, e1);                                                           \
                h[r][2] = DST__VSUB(isa, e0, e1);                                                           \
                h[r][3] = DST__VSUB(isa, z, e1);                                                            \
            }                                                                                               \
            for (s = 0; s < 4; ++s) {                                                                       \
                float *d = o + l0 + (size_t)s * es;                                                         \
                DST__VSTORE(isa, d, h[0][s]);                                                               \
                DST__VSTORE(isa, d + 4 * es, DST__VADD(isa, h[0][s], h[1][s]));                             \
                DST__VSTORE(isa, d + 8 * es, DST__VSUB(isa, h[0][s], h[1][s]));                             \
                DST__VSTORE(isa, d + 12 * es, DST__VSUB(isa, z, h[1][s]));                                  \
            }                                                                                               \
        }                                                                                                   \
    }
DST__WINO_GRAD_RUN(avx2)
DST__WINO_GRAD_RUN(avx512)
#undef DST__WINO_GRAD_RUN

/* AVX-512 only: planes of at most 8 tiles across take two whole tile rows
   per vector (lanes 0-7 and 8-15, as its input transform). Does the two
   rows at tile row ty of channel k when they are there; returns the tiles
   done (0: not this shape). */
static DST__VATTR(avx512) int dst__wino_grad_rows2_avx512(const dst__wino *q, const float *base, size_t sample, int k,
                                                         int t, int left, float *o)
{
    const __m512 z = _mm512_setzero_ps();
    size_t es = q->ld, plane = (size_t)q->out_hgt * q->out_wid;
    __mmask16 m0 = (__mmask16)dst__lanes(0, q->out_wid);
    int tw = q->tiles_w, ty = t / tw, r, s, e;
    __m512 h[2][4];
    if (tw > 8 || t % tw != 0 || left < 2 * tw || t + tw >= q->ntiles) return 0;
    for (r = 0; r < 2; ++r) {
        size_t at = (size_t)k * plane + (size_t)(2 * ty + r) * q->out_wid, bt = at + 2 * (size_t)q->out_wid;
        __m512 a = _mm512_maskz_loadu_ps(m0, base + at), bb = z, e0, e1;
        if (2 * ty + 2 + r < q->out_hgt) bb = _mm512_maskz_loadu_ps(m0, base + bt);
        e0 = DST__VEVEN(avx512, a, bb);
        e1 = DST__VODD(avx512, a, bb);
        h[r][0] = e0;
        h[r][1] = _mm512_add_ps(e0, e1);
        h[r][2] = _mm512_sub_ps(e0, e1);
        h[r][3] = _mm512_sub_ps(z, e1);
    }
    (void)sample;
    for (s = 0; s < 4; ++s) {
        __m512 v[4];
        v[0] = h[0][s];
        v[1] = _mm512_add_ps(h[0][s], h[1][s]);
        v[2] = _mm512_sub_ps(h[0][s], h[1][s]);
        v[3] = _mm512_sub_ps(z, h[1][s]);
        for (e = 0; e < 4; ++e) { /* the first row's half, then the second's over its spill */
            float *d = o + (size_t)(e * 4 + s) * es;
            _mm256_storeu_ps(d, _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, _mm512_castps_pd(v[e]), 0)));
            _mm256_storeu_ps(d + tw, _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, _mm512_castps_pd(v[e]), 1)));
        }
    }
    return 2 * tw;
}

/* The chunk's tiles run by run (one tile row of one sample each) through a
   vector run kernel; rows2, when not NULL, may take two tile rows at once. */
typedef void (*dst__wino_grad_run_fn)(const dst__wino *q, const float *base, size_t sample, int k, int ty, int tx,
                                      int run, float *o);
typedef int (*dst__wino_grad_rows2_fn)(const dst__wino *q, const float *base, size_t sample, int k, int t, int left,
                                       float *o);
static void dst__wino_grad_runs(const dst__wino *q, const float *dy, size_t g0, int cnt, float *td,
                                dst__wino_grad_run_fn run_kernel, dst__wino_grad_rows2_fn rows2)
{
    size_t sample = (size_t)q->kdim * q->out_hgt * q->out_wid;
    int k, j;
    for (k = 0; k < q->kdim; ++k)
        for (j = 0; j < cnt;) {
            size_t g = g0 + (size_t)j;
            int t = (int)(g % (size_t)q->ntiles), tx = t % q->tiles_w, done = 0;
            int run = q->tiles_w - tx < cnt - j ? q->tiles_w - tx : cnt - j;
            const float *base = dy + (g / (size_t)q->ntiles) * sample;
            float *o = td + (size_t)k * 16 * q->ld + j;
            if (rows2) done = rows2(q, base, sample, k, t, cnt - j, o);
            if (!done) run_kernel(q, base, sample, k, t / q->tiles_w, tx, run, o);
            j += done ? done : run;
        }
}

static void dst__wino_grad_avx2(const dst__wino *q, const float *dy, size_t g0, int cnt, float *td)
{
    dst__wino_grad_runs(q, dy, g0, cnt, td, dst__wino_grad_run_avx2, NULL);
}
static void dst__wino_grad_avx512(const dst__wino *q, const float *dy, size_t g0, int cnt, float *td)
{
    dst__wino_grad_runs(q, dy, g0, cnt, td, dst__wino_grad_run_avx512, dst__wino_grad_rows2_avx512);
}
#endif

/* floats of dU, V, dM and the GEMM's packing buffer for the dW sweep q */
static size_t dst__wino_grad_gemm_floats(const dst__wino *q) { return (size_t)q->per_chunk * (q->kdim + q->chans + 56) + 16; }
static size_t dst__wino_grad_floats(const dst__wino *q)
{
    return 16 * ((size_t)q->kdim * q->chans + (size_t)(q->chans + q->kdim) * q->ld) + dst__wino_grad_gemm_floats(q) + 16;
}

/* dw [K][C][3][3] for the forward sweep q over batch samples x, dy. */
static void dst__wino_weight_grad(const dst__wino *q, const dst__gemm_isa *isa, int batch, const float *x,
                                  const float *dy, float *dw, float *work)
{
    size_t total = (size_t)batch * q->ntiles, g0, KC = (size_t)q->kdim * q->chans, i;
    float *dU = work, *tv = dU + 16 * KC, *td = tv + 16 * (size_t)q->chans * q->ld, *buf = td + 16 * (size_t)q->kdim * q->ld;
    const dst__kernels *kt = dst__kernels_for(isa->level);
    int e, r;
    buf += (16 - ((uintptr_t)buf >> 2)) & 15; /* 64-byte aligned */
    for (g0 = 0; g0 < total; g0 += (size_t)q->per_chunk) {
        int cnt = total - g0 < (size_t)q->per_chunk ? (int)(total - g0) : q->per_chunk;
        dst__wino_inputs(q, kt, x, g0, cnt, tv);
        if (kt->wino_grad) kt->wino_grad(q, dy, g0, cnt, td);
        else dst__wino_grad_scalar(q, dy, g0, cnt, td);
        for (e = 0; e < 16; ++e)
            dst__sgemm_run(NULL, 0, 1, q->kdim, q->chans, cnt, 1.0f, td + e * q->ld, (int)(16 * q->ld), tv + e * q->ld,
                           (int)(16 * q->ld), g0 ? 1.0f : 0.0f, dU + e * KC, q->chans, &buf, 1, dst__wino_grad_gemm_floats(q));
    }
    for (i = 0; i < KC; ++i) { /* dW = G^T dU G */
        float u[16], t[3][4], *g = dw + i * 9;
        for (e = 0; e < 16; ++e) u[e] = dU[e * KC + i];
        for (r = 0; r < 4; ++r) { /* t = G^T u, column by column */
            t[0][r] = u[r] + 0.5f * (u[4 + r] + u[8 + r]);
            t[1][r] = 0.5f * (u[4 + r] - u[8 + r]);
            t[2][r] = 0.5f * (u[4 + r] + u[8 + r]) + u[12 + r];
        }
        for (r = 0; r < 3; ++r) { /* g = t G, row by row */
            g[r * 3 + 0] = t[r][0] + 0.5f * (t[r][1] + t[r][2]);
            g[r * 3 + 1] = 0.5f * (t[r][1] - t[r][2]);
            g[r * 3 + 2] = 0.5f * (t[r][1] + t[r][2]) + t[r][3];
        }
    }
}

/* relu: y = max(0, conv + bias), in the output transform. Returns 0 when
   there were no micro-kernels (a scalar run) and im2col did it, without
   the ReLU. */
static int dst__conv2d_forward_winograd(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                        const float *bias, int relu, float *y, float *work, float *pack)
{
    const dst__gemm_isa *isa = dst__wino_isa();
    dst__wino q = dst__wino_of(p->in_c, p->out_c, p->in_h, p->in_w, p->pad_h, p->pad_w);
    float *tu = work, *tv = tu + 16 * (size_t)(q.kdim + 8) * q.chans, *mprod = tv + 16 * (size_t)q.chans * q.ld;
    if (!isa) {
        dst__conv2d_forward_gemm(p, batch, x, w, bias, y, work, 1, pack);
        return 0;
    }
    dst__wino_weights(w, q.kdim, q.chans, 0, isa->mr, tu);
    dst__wino_sweep(&q, isa, batch, x, tu, bias, relu, y, tv, mprod);
    return 1;
}

/* dx = the sweep of dy (out_c planes padded by 2 - pad) with the filters
   turned and their channels swapped; dW and db on the im2col path. */
static void dst__conv2d_backward_winograd(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                          const float *dy, float *dx, float *dw, float *db, float *work, float *pack)
{
    const dst__gemm_isa *isa = dst__wino_isa();
    dst__wino q = dst__wino_of(p->out_c, p->in_c, dst__conv_out_h(p), dst__conv_out_w(p), 2 - p->pad_h, 2 - p->pad_w);
    float *tu = work, *tv = tu + 16 * (size_t)(q.kdim + 8) * q.chans, *mprod = tv + 16 * (size_t)q.chans * q.ld;
    if (!isa) {
        dst__conv2d_backward_gemm(p, batch, x, w, dy, dx, dw, db, work, 1, pack);
        return;
    }
    if (db) dst__conv2d_backward_gemm(p, batch, x, w, dy, NULL, NULL, db, work, 1, pack);
    if (dw) {
        dst__wino f = dst__wino_of(p->in_c, p->out_c, p->in_h, p->in_w, p->pad_h, p->pad_w);
        dst__wino_weight_grad(&f, isa, batch, x, dy, dw, work);
    }
    if (!dx) return;
    dst__wino_weights(w, q.kdim, q.chans, 1, isa->mr, tu);
    dst__wino_sweep(&q, isa, batch, dy, tu, NULL, 0, dx, tv, mprod);
}

/* The convolution by the given path (AUTO: the one for this shape); nb
   samples per GEMM on the GEMM path, work as dst__conv_work_floats says.
   relu (a model's conv followed by a ReLU layer, which then shares its
   buffer): y = max(0, conv + bias), applied by Winograd's output transform,
   by the GEMM path plane by plane with the bias while the plane is in
   cache, after the others. */
static void dst__conv2d_forward_relu(const dst_conv2d_params *p, dst__conv_path path, int batch, const float *x,
                                     const float *w, const float *bias, int relu, float *y, float *work, int nb,
                                     float *pack)
{
    size_t npos = (size_t)dst__conv_out_h(p) * dst__conv_out_w(p), c, planes = (size_t)batch * p->out_c;
    int done = 0;
    switch (dst__conv_path_of(p, path, batch)) {
    case DST__CONV_DIRECT: dst__conv2d_forward_direct(p, batch, x, w, bias, y); break;
    case DST__CONV_WINOGRAD: done = dst__conv2d_forward_winograd(p, batch, x, w, bias, relu, y, work, pack); break;
    case DST__CONV_REFERENCE: dst__conv2d_forward_ref(p, batch, x, w, bias, y); break;
    default:
        if (!relu) {
            dst__conv2d_forward_gemm(p, batch, x, w, bias, y, work, nb, pack);
            break;
        }
        dst__conv2d_forward_gemm(p, batch, x, w, NULL, y, work, nb, pack);
        for (c = 0; c < planes; ++c) {
            if (bias) dst__row_add_scalar(dst__kern()->conv_rows, y + c * npos, bias[c % (size_t)p->out_c], npos);
            dst__relu(y + c * npos, y + c * npos, npos);
        }
        done = 1;
        break;
    }
    if (relu && !done) dst__relu(y, y, planes * npos);
}

static void dst__conv2d_forward(const dst_conv2d_params *p, dst__conv_path path, int batch, const float *x,
                                const float *w, const float *bias, float *y, float *work, int nb, float *pack)
{
    dst__conv2d_forward_relu(p, path, batch, x, w, bias, 0, y, work, nb, pack);
}

static void dst__conv2d_backward(const dst_conv2d_params *p, dst__conv_path path, int batch, const float *x,
                                 const float *w, const float *dy, float *dx, float *dw, float *db, float *work,
                                 int nb, float *pack)
{
    switch (dst__conv_path_of(p, path, batch)) {
    case DST__CONV_DIRECT: dst__conv2d_backward_direct(p, batch, x, w, dy, dx, dw, db); break;
    case DST__CONV_WINOGRAD: dst__conv2d_backward_winograd(p, batch, x, w, dy, dx, dw, db, work, pack); break;
    case DST__CONV_REFERENCE: dst__conv2d_backward_ref(p, batch, x, w, dy, dx, dw, db); break;
    default: dst__conv2d_backward_gemm(p, batch, x, w, dy, dx, dw, db, work, nb, pack); break;
    }
}

/* A checked p's batch of inputs and outputs addressable as float arrays. */
static int dst__conv2d_batch_fits(const dst_conv2d_params *p, int batch)
{
    return dst__product_le(batch, (long long)p->in_c * p->in_h, p->in_w, dst__max_floats()) &&
           dst__product_le(batch, (long long)p->out_c * dst__conv_out_h(p), dst__conv_out_w(p), dst__max_floats());
}

DSTDEF dst_result dst_conv2d_forward(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                     const float *bias, float *y, float *work)
{
    if (dst_conv2d_check(p, NULL, NULL, NULL) != DST_OK || batch < 1 || !x || !w || !y ||
        !dst__conv2d_batch_fits(p, batch) || (!work && dst_conv2d_work_floats(p) > 0))
        return DST_ERR_ARG;
    dst__conv2d_forward(p, DST__CONV_AUTO, batch, x, w, bias, y, work, 1, NULL);
    return DST_OK;
}

DSTDEF dst_result dst_conv2d_backward(const dst_conv2d_params *p, int batch, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, float *db, float *work)
{
    if (dst_conv2d_check(p, NULL, NULL, NULL) != DST_OK || batch < 1 || !x || !w || !dy ||
        !dst__conv2d_batch_fits(p, batch) || (!work && dst_conv2d_work_floats(p) > 0))
        return DST_ERR_ARG;
    dst__conv2d_backward(p, DST__CONV_AUTO, batch, x, w, dy, dx, dw, db, work, 1, NULL);
    return DST_OK;
}

/* ==== pooling ==================================================== >>pool */

static int dst__pool_stride_h(const dst_pool2d_params *p) { return p->stride_h ? p->stride_h : p->kernel_h; }
static int dst__pool_stride_w(const dst_pool2d_params *p) { return p->stride_w ? p->stride_w : p->kernel_w; }
static int dst__pool_out_h(const dst_pool2d_params *p)
{
    return (int)dst__window_out(p->in_h, p->kernel_h, dst__pool_stride_h(p), p->pad_h, 1);
}
static int dst__pool_out_w(const dst_pool2d_params *p)
{
    return (int)dst__window_out(p->in_w, p->kernel_w, dst__pool_stride_w(p), p->pad_w, 1);
}

DSTDEF dst_result dst_pool2d_check(const dst_pool2d_params *p, int *out_h, int *out_w, dst_error *err)
{
    long long oh, ow;
    if (!p) return dst__err(err, DST_ERR_ARG, "pool2d params are NULL");
    if (p->channels < 1 || p->in_h < 1 || p->in_w < 1)
        return dst__err(err, DST_ERR_ARG, "input %d x %d x %d: every dimension must be >= 1", p->channels, p->in_h, p->in_w);
    if (p->kernel_h < 1 || p->kernel_w < 1)
        return dst__err(err, DST_ERR_ARG, "kernel %dx%d: must be >= 1", p->kernel_h, p->kernel_w);
    if (p->stride_h < 0 || p->stride_w < 0)
        return dst__err(err, DST_ERR_ARG, "stride %dx%d: must be >= 1 (or 0 for the kernel size)", p->stride_h, p->stride_w);
    if (p->pad_h < 0 || p->pad_w < 0 || p->pad_h > p->kernel_h / 2 || p->pad_w > p->kernel_w / 2)
        return dst__err(err, DST_ERR_ARG, "padding %dx%d: must be >= 0 and at most half the kernel %dx%d",
                        p->pad_h, p->pad_w, p->kernel_h, p->kernel_w);
    oh = dst__window_out(p->in_h, p->kernel_h, dst__pool_stride_h(p), p->pad_h, 1);
    ow = dst__window_out(p->in_w, p->kernel_w, dst__pool_stride_w(p), p->pad_w, 1);
    if (oh == 0 || ow == 0)
        return dst__err(err, DST_ERR_ARG, "kernel %dx%d is larger than the padded input %lldx%lld",
                        p->kernel_h, p->kernel_w, p->in_h + 2LL * p->pad_h, p->in_w + 2LL * p->pad_w);
    if (!dst__window_int_ok(p->in_h, p->kernel_h, dst__pool_stride_h(p), p->pad_h, 1) ||
        !dst__window_int_ok(p->in_w, p->kernel_w, dst__pool_stride_w(p), p->pad_w, 1))
        return dst__err(err, DST_ERR_ARG, "padding %dx%d, stride %dx%d and kernel %dx%d on %dx%d: a window's indices "
                        "pass INT_MAX", p->pad_h, p->pad_w, dst__pool_stride_h(p), dst__pool_stride_w(p), p->kernel_h,
                        p->kernel_w, p->in_h, p->in_w);
    if (!dst__product_le(p->channels, p->in_h, p->in_w, INT_MAX) || !dst__product_le(p->channels, oh, ow, INT_MAX))
        return dst__err(err, DST_ERR_ARG, "input %d x %d x %d to %lld x %lld is too large", p->channels, p->in_h,
                        p->in_w, oh, ow);
    if (out_h) *out_h = (int)oh;
    if (out_w) *out_w = (int)ow;
    return DST_OK;
}

/* A window's rows [*h0, *h1) and columns [*w0, *w1), clipped to the input. */
static void dst__pool_window(const dst_pool2d_params *p, int yo, int xo, int *h0, int *h1, int *w0, int *w1)
{
    int hs = yo * dst__pool_stride_h(p) - p->pad_h, ws = xo * dst__pool_stride_w(p) - p->pad_w;
    *h0 = hs < 0 ? 0 : hs;
    *h1 = hs + p->kernel_h < p->in_h ? hs + p->kernel_h : p->in_h;
    *w0 = ws < 0 ? 0 : ws;
    *w1 = ws + p->kernel_w < p->in_w ? ws + p->kernel_w : p->in_w;
}

/* The first maximum of each window wins, and a NaN beats everything, as in
   PyTorch (so a NaN input propagates). Any window; the reference of the
   2x2 path below. */
static void dst__maxpool_forward_ref(const dst_pool2d_params *p, int batch, const float *x, float *y, int32_t *argmax)
{
    int oh = dst__pool_out_h(p), ow = dst__pool_out_w(p), yo, xo, h, w, h0, h1, w0, w1;
    size_t c, planes = (size_t)batch * p->channels, in_plane = (size_t)p->in_h * p->in_w, out_plane = (size_t)oh * ow;
    for (c = 0; c < planes; ++c) {
        const float *src = x + c * in_plane;
        for (yo = 0; yo < oh; ++yo)
            for (xo = 0; xo < ow; ++xo) {
                float best = -INFINITY;
                int at;
                dst__pool_window(p, yo, xo, &h0, &h1, &w0, &w1);
                at = h0 * p->in_w + w0;
                for (h = h0; h < h1; ++h)
                    for (w = w0; w < w1; ++w) {
                        float v = src[h * p->in_w + w];
                        if (v > best || v != v) { best = v; at = h * p->in_w + w; }
                    }
                y[c * out_plane + (size_t)yo * ow + xo] = best;
                if (argmax) argmax[c * out_plane + (size_t)yo * ow + xo] = at;
            }
    }
}

#if defined(DST__SIMD_X86)
/* 2x2 windows, stride 2, no padding (the usual pooling after a conv), 4
   outputs at a time: the even and odd columns of two input rows, compared
   in window order a b / c d with the reference's rule (v > best or v is
   NaN), both the maxima and their indices chosen by masks. The kernel
   table's maxpool2x2 (SSE2, and AVX-512 below; the shuffles and masks
   differ per set, so each has its own). */
static void dst__maxpool2x2_forward_sse2(const dst_pool2d_params *p, int batch, const float *x, float *y, int32_t *argmax)
{
    int wid = p->in_w, oh = dst__pool_out_h(p), ow = dst__pool_out_w(p), yo, xo;
    size_t c, planes = (size_t)batch * p->channels, in_plane = (size_t)p->in_h * wid, out_plane = (size_t)oh * ow;
    const __m128i four_steps = _mm_set_epi32(6, 4, 2, 0), one = _mm_set1_epi32(1), row = _mm_set1_epi32(wid);
    for (c = 0; c < planes; ++c)
        for (yo = 0; yo < oh; ++yo) {
            const float *r0 = x + c * in_plane + (size_t)(2 * yo) * wid, *r1 = r0 + wid;
            float *out = y + c * out_plane + (size_t)yo * ow;
            int32_t *am = argmax ? argmax + c * out_plane + (size_t)yo * ow : NULL;
            for (xo = 0; xo + 4 <= ow; xo += 4) {
                __m128 t0 = _mm_loadu_ps(r0 + 2 * xo), t1 = _mm_loadu_ps(r0 + 2 * xo + 4);
                __m128 b0 = _mm_loadu_ps(r1 + 2 * xo), b1 = _mm_loadu_ps(r1 + 2 * xo + 4);
                __m128 va = _mm_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0)), vb = _mm_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
                __m128 vc = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), vd = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
                __m128i ia = _mm_add_epi32(_mm_set1_epi32(2 * yo * wid + 2 * xo), four_steps), at = ia;
                __m128 best = va, m;
#define DST__MAX_STEP(v, idx)                                                               \
    m = _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v));                           \
    best = _mm_or_ps(_mm_and_ps(m, v), _mm_andnot_ps(m, best));                            \
    at = _mm_or_si128(_mm_and_si128(_mm_castps_si128(m), idx), _mm_andnot_si128(_mm_castps_si128(m), at))
                DST__MAX_STEP(vb, _mm_add_epi32(ia, one));
                DST__MAX_STEP(vc, _mm_add_epi32(ia, row));
                DST__MAX_STEP(vd, _mm_add_epi32(_mm_add_epi32(ia, row), one));
#undef DST__MAX_STEP
                _mm_storeu_ps(out + xo, best);
                if (am) _mm_storeu_si128((__m128i *)(void *)(am + xo), at);
            }
            for (; xo < ow; ++xo) {
                const float v[4] = { r0[2 * xo], r0[2 * xo + 1], r1[2 * xo], r1[2 * xo + 1] };
                const int32_t at0 = 2 * yo * wid + 2 * xo, at4[4] = { at0, at0 + 1, at0 + wid, at0 + wid + 1 };
                float best = v[0];
                int32_t at = at4[0];
                int k;
                for (k = 1; k < 4; ++k)
                    if (v[k] > best || v[k] != v[k]) { best = v[k]; at = at4[k]; }
                out[xo] = best;
                if (am) am[xo] = at;
            }
        }
}
#endif

#if defined(DST__SIMD_X86)
/* The same 2x2 windows, 16 outputs at a time (AVX-512): the even and odd
   columns of 32 input columns by two-source permutes, the comparisons and
   choices under masks; loads past the row end masked off, stores by
   dst__store_lanes_avx512 (no masked stores: slow on some CPUs). */
static DST__TARGET("avx512f") void dst__maxpool2x2_forward_avx512(const dst_pool2d_params *p, int batch, const float *x,
                                                                   float *y, int32_t *argmax)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i steps = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    int wid = p->in_w, oh = dst__pool_out_h(p), ow = dst__pool_out_w(p), yo, xo;
    size_t c, planes = (size_t)batch * p->channels, in_plane = (size_t)p->in_h * wid, out_plane = (size_t)oh * ow;
    const __m512i one = _mm512_set1_epi32(1), row = _mm512_set1_epi32(wid);
    for (c = 0; c < planes; ++c)
        for (yo = 0; yo < oh; ++yo) {
            const float *r0 = x + c * in_plane + (size_t)(2 * yo) * wid, *r1 = r0 + wid;
            float *out = y + c * out_plane + (size_t)yo * ow;
            int32_t *am = argmax ? argmax + c * out_plane + (size_t)yo * ow : NULL;
            for (xo = 0; xo < ow; xo += 16) {
                int n = ow - xo < 16 ? ow - xo : 16;
                __mmask16 k0 = (__mmask16)dst__lanes(0, 2 * n), k1 = (__mmask16)dst__lanes(0, 2 * n - 16);
                __m512 t0 = _mm512_maskz_loadu_ps(k0, r0 + 2 * xo), t1 = _mm512_maskz_loadu_ps(k1, r0 + 2 * xo + 16);
                __m512 b0 = _mm512_maskz_loadu_ps(k0, r1 + 2 * xo), b1 = _mm512_maskz_loadu_ps(k1, r1 + 2 * xo + 16);
                __m512 best = _mm512_permutex2var_ps(t0, even, t1), v;
                __m512i ia = _mm512_add_epi32(_mm512_set1_epi32(2 * yo * wid + 2 * xo), steps), at = ia;
                __mmask16 m;
#define DST__MAX_STEP(vv, idx)                                                                     \
    v = vv;                                                                                        \
    m = (__mmask16)(_mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)); \
    best = _mm512_mask_mov_ps(best, m, v);                                                         \
    at = _mm512_mask_mov_epi32(at, m, idx)
                DST__MAX_STEP(_mm512_permutex2var_ps(t0, odd, t1), _mm512_add_epi32(ia, one));
                DST__MAX_STEP(_mm512_permutex2var_ps(b0, even, b1), _mm512_add_epi32(ia, row));
                DST__MAX_STEP(_mm512_permutex2var_ps(b0, odd, b1), _mm512_add_epi32(_mm512_add_epi32(ia, row), one));
#undef DST__MAX_STEP
                dst__store_lanes_avx512(out + xo, best, n);
                if (am) dst__store_lanes_avx512((float *)(void *)(am + xo), _mm512_castsi512_ps(at), n);
            }
        }
}
#endif

static void dst__maxpool_forward(const dst_pool2d_params *p, int batch, const float *x, float *y, int32_t *argmax)
{
    const dst__kernels *kt = dst__kern();
    if (kt->maxpool2x2 && p->kernel_h == 2 && p->kernel_w == 2 && dst__pool_stride_h(p) == 2 &&
        dst__pool_stride_w(p) == 2 && p->pad_h == 0 && p->pad_w == 0) {
        kt->maxpool2x2(p, batch, x, y, argmax);
        return;
    }
    dst__maxpool_forward_ref(p, batch, x, y, argmax);
}

static void dst__maxpool_backward(const dst_pool2d_params *p, int batch, const int32_t *argmax,
                                  const float *dy, float *dx)
{
    size_t c, i, planes = (size_t)batch * p->channels, in_plane = (size_t)p->in_h * p->in_w;
    size_t out_plane = (size_t)dst__pool_out_h(p) * dst__pool_out_w(p);
    memset(dx, 0, planes * in_plane * sizeof(float));
    for (c = 0; c < planes; ++c)
        for (i = 0; i < out_plane; ++i) dx[c * in_plane + (size_t)argmax[c * out_plane + i]] += dy[c * out_plane + i];
}

/* count_include_pad: every window divides by kernel_h * kernel_w */
static void dst__avgpool_forward(const dst_pool2d_params *p, int batch, const float *x, float *y)
{
    int oh = dst__pool_out_h(p), ow = dst__pool_out_w(p), yo, xo, h, w, h0, h1, w0, w1;
    size_t c, planes = (size_t)batch * p->channels, in_plane = (size_t)p->in_h * p->in_w;
    float inv = 1.0f / (float)(p->kernel_h * p->kernel_w);
    for (c = 0; c < planes; ++c) {
        const float *src = x + c * in_plane;
        float *out = y + c * (size_t)oh * ow;
        for (yo = 0; yo < oh; ++yo)
            for (xo = 0; xo < ow; ++xo) {
                float s = 0;
                dst__pool_window(p, yo, xo, &h0, &h1, &w0, &w1);
                for (h = h0; h < h1; ++h)
                    for (w = w0; w < w1; ++w) s += src[h * p->in_w + w];
                out[(size_t)yo * ow + xo] = s * inv;
            }
    }
}

static void dst__avgpool_backward(const dst_pool2d_params *p, int batch, const float *dy, float *dx)
{
    int oh = dst__pool_out_h(p), ow = dst__pool_out_w(p), yo, xo, h, w, h0, h1, w0, w1;
    size_t c, planes = (size_t)batch * p->channels, in_plane = (size_t)p->in_h * p->in_w;
    float inv = 1.0f / (float)(p->kernel_h * p->kernel_w);
    memset(dx, 0, planes * in_plane * sizeof(float));
    for (c = 0; c < planes; ++c) {
        float *dst = dx + c * in_plane;
        const float *g = dy + c * (size_t)oh * ow;
        for (yo = 0; yo < oh; ++yo)
            for (xo = 0; xo < ow; ++xo) {
                float d = g[(size_t)yo * ow + xo] * inv;
                dst__pool_window(p, yo, xo, &h0, &h1, &w0, &w1);
                for (h = h0; h < h1; ++h)
                    for (w = w0; w < w1; ++w) dst[h * p->in_w + w] += d;
            }
    }
}

/* A valid p, and its batch of inputs and outputs addressable as float arrays. */
static int dst__pool2d_args_ok(const dst_pool2d_params *p, int batch)
{
    return dst_pool2d_check(p, NULL, NULL, NULL) == DST_OK && batch >= 1 &&
           dst__product_le(batch, (long long)p->channels * p->in_h, p->in_w, dst__max_floats()) &&
           dst__product_le(batch, (long long)p->channels * dst__pool_out_h(p), dst__pool_out_w(p), dst__max_floats());
}

DSTDEF dst_result dst_maxpool2d_forward(const dst_pool2d_params *p, int batch, const float *x, float *y,
                                        int32_t *argmax)
{
    if (!dst__pool2d_args_ok(p, batch) || !x || !y) return DST_ERR_ARG;
    dst__maxpool_forward(p, batch, x, y, argmax);
    return DST_OK;
}

DSTDEF dst_result dst_maxpool2d_backward(const dst_pool2d_params *p, int batch, const int32_t *argmax,
                                         const float *dy, float *dx)
{
    if (!dst__pool2d_args_ok(p, batch) || !argmax || !dy || !dx) return DST_ERR_ARG;
    dst__maxpool_backward(p, batch, argmax, dy, dx);
    return DST_OK;
}

DSTDEF dst_result dst_avgpool2d_forward(const dst_pool2d_params *p, int batch, const float *x, float *y)
{
    if (!dst__pool2d_args_ok(p, batch) || !x || !y) return DST_ERR_ARG;
    dst__avgpool_forward(p, batch, x, y);
    return DST_OK;
}

DSTDEF dst_result dst_avgpool2d_backward(const dst_pool2d_params *p, int batch, const float *dy, float *dx)
{
    if (!dst__pool2d_args_ok(p, batch) || !dy || !dx) return DST_ERR_ARG;
    dst__avgpool_backward(p, batch, dy, dx);
    return DST_OK;
}

/* ==== batch normalization ================================== >>batchnorm */

/* Sums in double: a channel may hold batch * H * W values. */
/* Channels c0 .. c1 - 1 (each channel is on its own: a model's batch norm
   runs blocks of channels on threads). */
static void dst__batchnorm_forward(const dst_batchnorm_params *p, int batch, int training, const float *x,
                                   const float *gamma, const float *beta, float *running_mean,
                                   float *running_var, float *y, float *save_mean, float *save_invstd, int c0, int c1)
{
    int c, n, chans = p->channels, spatial = p->spatial, i;
    double count = (double)batch * spatial;
    for (c = c0; c < c1; ++c) {
        float mean, invstd, g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        if (training) {
            double sum = 0, sq = 0, mu;
            for (n = 0; n < batch; ++n) {
                const float *v = x + ((size_t)n * chans + c) * spatial;
                for (i = 0; i < spatial; ++i) sum += (double)v[i];
            }
            mu = sum / count;
            for (n = 0; n < batch; ++n) {
                const float *v = x + ((size_t)n * chans + c) * spatial;
                for (i = 0; i < spatial; ++i) sq += ((double)v[i] - mu) * ((double)v[i] - mu);
            }
            mean = (float)mu;
            invstd = (float)(1.0 / sqrt(sq / count + (double)p->eps));
            save_mean[c] = mean;
            save_invstd[c] = invstd;
            if (running_mean && running_var) {
                running_mean[c] = (1.0f - p->momentum) * running_mean[c] + p->momentum * mean;
                running_var[c] = (1.0f - p->momentum) * running_var[c] +
                                 p->momentum * (float)(count > 1 ? sq / (count - 1) : sq);
            }
        } else {
            mean = running_mean[c];
            invstd = (float)(1.0 / sqrt((double)running_var[c] + (double)p->eps));
        }
        for (n = 0; n < batch; ++n) {
            const float *v = x + ((size_t)n * chans + c) * spatial;
            float *out = y + ((size_t)n * chans + c) * spatial, scale = invstd * g;
            for (i = 0; i < spatial; ++i) out[i] = (v[i] - mean) * scale + b;
        }
    }
}

/* With xhat = (x - mean) invstd and M = batch * spatial per channel:
   dbeta = sum dy, dgamma = sum dy xhat,
   dx = gamma invstd / M (M dy - dbeta - xhat dgamma). */
static void dst__batchnorm_backward(const dst_batchnorm_params *p, int batch, const float *x, const float *gamma,
                                    const float *save_mean, const float *save_invstd, const float *dy,
                                    float *dx, float *dgamma, float *dbeta, int c0, int c1)
{
    int c, n, chans = p->channels, spatial = p->spatial, i;
    float count = (float)batch * (float)spatial;
    for (c = c0; c < c1; ++c) {
        double sdy = 0, sdyx = 0;
        float mean = save_mean[c], invstd = save_invstd[c], g = gamma ? gamma[c] : 1.0f, k, a, b;
        for (n = 0; n < batch; ++n) {
            const float *v = x + ((size_t)n * chans + c) * spatial, *d = dy + ((size_t)n * chans + c) * spatial;
            for (i = 0; i < spatial; ++i) {
                sdy += (double)d[i];
                sdyx += (double)d[i] * (double)((v[i] - mean) * invstd);
            }
        }
        if (dbeta) dbeta[c] = (float)sdy;
        if (dgamma) dgamma[c] = (float)sdyx;
        if (!dx) continue;
        /* dx = k dy - a - xhat b, with k = gamma invstd */
        k = g * invstd;
        a = k * (float)sdy / count;
        b = k * (float)sdyx / count;
        for (n = 0; n < batch; ++n) {
            const float *v = x + ((size_t)n * chans + c) * spatial, *d = dy + ((size_t)n * chans + c) * spatial;
            float *out = dx + ((size_t)n * chans + c) * spatial;
            for (i = 0; i < spatial; ++i) out[i] = k * d[i] - a - (v[i] - mean) * invstd * b;
        }
    }
}

/* Valid p and batch, the batch's values addressable as one float array. */
static int dst__batchnorm_args_ok(const dst_batchnorm_params *p, int batch)
{
    return p && p->channels >= 1 && p->spatial >= 1 && p->eps > 0 && dst__finite(p->eps) &&
           p->momentum >= 0 && p->momentum <= 1 && batch >= 1 &&
           dst__product_le(batch, p->channels, p->spatial, dst__max_floats());
}

DSTDEF dst_result dst_batchnorm_forward(const dst_batchnorm_params *p, int batch, int training, const float *x,
                                        const float *gamma, const float *beta, float *running_mean,
                                        float *running_var, float *y, float *save_mean, float *save_invstd)
{
    if (!dst__batchnorm_args_ok(p, batch) || !x || !y) return DST_ERR_ARG;
    if (training && (!save_mean || !save_invstd || (double)batch * p->spatial < 2)) return DST_ERR_ARG;
    if (!training && (!running_mean || !running_var)) return DST_ERR_ARG;
    dst__batchnorm_forward(p, batch, training, x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd, 0,
                           p->channels);
    return DST_OK;
}

DSTDEF dst_result dst_batchnorm_backward(const dst_batchnorm_params *p, int batch, const float *x,
                                         const float *gamma, const float *save_mean, const float *save_invstd,
                                         const float *dy, float *dx, float *dgamma, float *dbeta)
{
    if (!dst__batchnorm_args_ok(p, batch) || !x || !save_mean || !save_invstd || !dy) return DST_ERR_ARG;
    dst__batchnorm_backward(p, batch, x, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta, 0, p->channels);
    return DST_OK;
}

/* ==== int8 kernels ================================================ >>int8
   The integer arithmetic of int8 models (dst_model_quantize): activations
   uint8 with a zero point, weights int8 in [-127, 127], sums in int32.
   The one product kernel, q8_dot, is a row of dot products,
     out[r ostride] = sum over i < k of x[i] w[r ldw + i]      (r < rows),
   which a dense layer runs per sample and a convolution per output
   position (over a patch of its input). Integer sums are exact whatever
   the order, so every level gives the scalar reference's bits.

   Why no sum overflows: |x w| <= 255 x 127 = 32385, and a row has at most
   DST__Q8_MAX_K = 32768 terms, so |sum| <= 1,061,191,680 < 2^31 - 1, with
   room for the bias (at most 2^29 plus the zero point's correction,
   255 x 127 x 32768; dst__q8_weights). A layer with a longer row runs in
   float (dst_model_quantize decides).
   The vector levels widen both operands to int16 and multiply-add pairs
   into int32 (pmaddwd: a pair is at most 64770, far from its one overflow
   case, -32768 x -32768 twice). They do not use pmaddubsw, which adds a
   pair of u8 x s8 products in saturating int16: 2 x 255 x 127 = 64770
   would saturate, unless activations were cut to 7 bits. AVX-512 VNNI's
   vpdpbusd adds four u8 x s8 products straight into int32, with no int16
   step: exact at full speed. NEON widens with vmovl and vmlal. */
#define DST__Q8_MAX_K 32768

static void dst__q8_dot_scalar(const uint8_t *x, const int8_t *w, size_t k, size_t rows, size_t ldw, int32_t *out,
                                size_t ostride)
{
    size_t r, i;
    for (r = 0; r < rows; ++r, w += ldw) {
        int32_t s = 0;
        for (i = 0; i < k; ++i) s += (int32_t)x[i] * (int32_t)w[i];
        out[r * ostride] = s;
    }
}

#if defined(DST__SIMD_X86)
/* 16 values a step, one row at a time (SSE2 has no sign extension: the
   bytes go to the high half of int16 lanes and shift down arithmetically) */
static void dst__q8_dot_sse2(const uint8_t *x, const int8_t *w, size_t k, size_t rows, size_t ldw, int32_t *out,
                                size_t ostride)
{
    size_t r, i, kv = k & ~(size_t)15;
    const __m128i zero = _mm_setzero_si128();
    for (r = 0; r < rows; ++r, w += ldw) {
        __m128i acc = _mm_setzero_si128();
        int32_t s;
        for (i = 0; i < kv; i += 16) {
            __m128i xv = _mm_loadu_si128((const __m128i *)(const void *)(x + i));
            __m128i wv = _mm_loadu_si128((const __m128i *)(const void *)(w + i));
            __m128i xl = _mm_unpacklo_epi8(xv, zero), xh = _mm_unpackhi_epi8(xv, zero);
            __m128i wl = _mm_srai_epi16(_mm_unpacklo_epi8(wv, wv), 8), wh = _mm_srai_epi16(_mm_unpackhi_epi8(wv, wv), 8);
            acc = _mm_add_epi32(acc, _mm_add_epi32(_mm_madd_epi16(xl, wl), _mm_madd_epi16(xh, wh)));
        }
        acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0x4E));
        acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0xB1));
        s = _mm_cvtsi128_si32(acc);
        for (i = kv; i < k; ++i) s += (int32_t)x[i] * (int32_t)w[i];
        out[r * ostride] = s;
    }
}

/* the lane sums of four vectors at once, into s[0..3] */
static DST__TARGET("avx2,fma") void dst__hsum4_epi32_avx2(__m256i a, __m256i b, __m256i c, __m256i d, int32_t *s)
{
#define DST__HALVES_AVX2(v) _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1))
    __m128i ab = _mm_hadd_epi32(DST__HALVES_AVX2(a), DST__HALVES_AVX2(b));
    __m128i cd = _mm_hadd_epi32(DST__HALVES_AVX2(c), DST__HALVES_AVX2(d));
#undef DST__HALVES_AVX2
    _mm_storeu_si128((__m128i *)(void *)s, _mm_hadd_epi32(ab, cd));
}

/* 16 values a step, four rows at a time (x is loaded once for four rows) */
static DST__TARGET("avx2,fma") void dst__q8_dot_avx2(const uint8_t *x, const int8_t *w, size_t k, size_t rows,
                                                      size_t ldw, int32_t *out, size_t ostride)
{
    size_t r, i, j, kv = k & ~(size_t)15;
    for (r = 0; r < rows; r += 4) {
        size_t nr = rows - r < 4 ? rows - r : 4;
        const int8_t *w0 = w + r * ldw, *w1 = nr > 1 ? w0 + ldw : w0, *w2 = nr > 2 ? w1 + ldw : w0,
                     *w3 = nr > 3 ? w2 + ldw : w0;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        int32_t s[4];
        for (i = 0; i < kv; i += 16) {
            __m256i xv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(x + i)));
#define DST__Q8_ROW_AVX2(acc, wr) \
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(xv, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)((wr) + i)))))
            DST__Q8_ROW_AVX2(a0, w0);
            DST__Q8_ROW_AVX2(a1, w1);
            DST__Q8_ROW_AVX2(a2, w2);
            DST__Q8_ROW_AVX2(a3, w3);
#undef DST__Q8_ROW_AVX2
        }
        dst__hsum4_epi32_avx2(a0, a1, a2, a3, s);
        for (j = 0; j < nr; ++j) {
            const int8_t *wr = w + (r + j) * ldw;
            for (i = kv; i < k; ++i) s[j] += (int32_t)x[i] * (int32_t)wr[i];
            out[(r + j) * ostride] = s[j];
        }
    }
}

/* AVX-512BW: 32 values a step, the tail by masked loads (masked bytes are
   not read); four rows at a time */
#define DST__Q8_ATTR_AVX512 DST__TARGET("avx512f,avx512bw,avx512vl")
/* the lane sums of four vectors at once, into s[0..3] (masked extracts:
   GCC 12 warns in C++ on the unmasked ones, see dst__hsum_avx512) */
static DST__Q8_ATTR_AVX512 __m128i dst__quarters_avx512(__m512i v)
{
    __m256i h = _mm256_add_epi32(_mm512_mask_extracti64x4_epi64(_mm256_setzero_si256(), 0xF, v, 0),
                                 _mm512_mask_extracti64x4_epi64(_mm256_setzero_si256(), 0xF, v, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_mask_extracti32x4_epi32(_mm_setzero_si128(), 0xF, h, 1));
}
static DST__Q8_ATTR_AVX512 void dst__hsum4_epi32_avx512(__m512i a, __m512i b, __m512i c, __m512i d, int32_t *s)
{
    __m128i ab = _mm_hadd_epi32(dst__quarters_avx512(a), dst__quarters_avx512(b));
    __m128i cd = _mm_hadd_epi32(dst__quarters_avx512(c), dst__quarters_avx512(d));
    _mm_storeu_si128((__m128i *)(void *)s, _mm_hadd_epi32(ab, cd));
}

static DST__Q8_ATTR_AVX512 void dst__q8_dot_avx512(const uint8_t *x, const int8_t *w, size_t k, size_t rows,
                                                    size_t ldw, int32_t *out, size_t ostride)
{
    size_t r, i;
    for (r = 0; r < rows; r += 4) {
        size_t nr = rows - r < 4 ? rows - r : 4;
        const int8_t *w0 = w + r * ldw, *w1 = nr > 1 ? w0 + ldw : w0, *w2 = nr > 2 ? w1 + ldw : w0,
                     *w3 = nr > 3 ? w2 + ldw : w0;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        int32_t s[4];
        for (i = 0; i < k; i += 32) {
            __mmask32 mk = k - i >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << (k - i)) - 1u);
            __m512i xv = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(mk, x + i));
#define DST__Q8_ROW_AVX512(acc, wr) \
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(xv, _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mk, (wr) + i))))
            DST__Q8_ROW_AVX512(a0, w0);
            DST__Q8_ROW_AVX512(a1, w1);
            DST__Q8_ROW_AVX512(a2, w2);
            DST__Q8_ROW_AVX512(a3, w3);
#undef DST__Q8_ROW_AVX512
        }
        dst__hsum4_epi32_avx512(a0, a1, a2, a3, s);
        for (i = 0; i < nr; ++i) out[(r + i) * ostride] = s[i];
    }
    DST__VLEAVE(avx512);
}

/* AVX-512 VNNI: 64 values a step, vpdpbusd (four u8 x s8 products into
   each int32 lane, no saturation) */
#define DST__Q8_ATTR_VNNI DST__TARGET("avx512f,avx512bw,avx512vl,avx512vnni")
static DST__Q8_ATTR_VNNI void dst__q8_dot_avx512vnni(const uint8_t *x, const int8_t *w, size_t k, size_t rows,
                                                      size_t ldw, int32_t *out, size_t ostride)
{
    size_t r, i;
    for (r = 0; r < rows; r += 4) {
        size_t nr = rows - r < 4 ? rows - r : 4;
        const int8_t *w0 = w + r * ldw, *w1 = nr > 1 ? w0 + ldw : w0, *w2 = nr > 2 ? w1 + ldw : w0,
                     *w3 = nr > 3 ? w2 + ldw : w0;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        int32_t s[4];
        for (i = 0; i < k; i += 64) {
            __mmask64 mk = k - i >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (k - i)) - 1);
            __m512i xv = _mm512_maskz_loadu_epi8(mk, x + i);
            a0 = _mm512_dpbusd_epi32(a0, xv, _mm512_maskz_loadu_epi8(mk, w0 + i));
            a1 = _mm512_dpbusd_epi32(a1, xv, _mm512_maskz_loadu_epi8(mk, w1 + i));
            a2 = _mm512_dpbusd_epi32(a2, xv, _mm512_maskz_loadu_epi8(mk, w2 + i));
            a3 = _mm512_dpbusd_epi32(a3, xv, _mm512_maskz_loadu_epi8(mk, w3 + i));
        }
        dst__hsum4_epi32_avx512(a0, a1, a2, a3, s);
        for (i = 0; i < nr; ++i) out[(r + i) * ostride] = s[i];
    }
    DST__VLEAVE(avx512);
}
#endif /* DST__SIMD_X86 */

#if defined(DST__SIMD_NEON)
/* 16 values a step: widen to int16 (vmovl), multiply-accumulate into
   int32 (vmlal); one row at a time */
static void dst__q8_dot_neon(const uint8_t *x, const int8_t *w, size_t k, size_t rows, size_t ldw, int32_t *out,
                                size_t ostride)
{
    size_t r, i, kv = k & ~(size_t)15;
    for (r = 0; r < rows; ++r, w += ldw) {
        int32x4_t acc = vdupq_n_s32(0);
        int32_t s;
        for (i = 0; i < kv; i += 16) {
            uint8x16_t xv = vld1q_u8(x + i);
            int8x16_t wv = vld1q_s8(w + i);
            int16x8_t xl = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(xv))), xh = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(xv)));
            int16x8_t wl = vmovl_s8(vget_low_s8(wv)), wh = vmovl_s8(vget_high_s8(wv));
            acc = vmlal_s16(acc, vget_low_s16(xl), vget_low_s16(wl));
            acc = vmlal_s16(acc, vget_high_s16(xl), vget_high_s16(wl));
            acc = vmlal_s16(acc, vget_low_s16(xh), vget_low_s16(wh));
            acc = vmlal_s16(acc, vget_high_s16(xh), vget_high_s16(wh));
        }
        s = vaddvq_s32(acc);
        for (i = kv; i < k; ++i) s += (int32_t)x[i] * (int32_t)w[i];
        out[r * ostride] = s;
    }
}
#endif

/* ---- int8 convolution: output channels x positions ----
   q8_conv gives out[r npos + p] = sum over i < k of w[r k + i] x(p, i), the
   integer sums of rows output channels (weights w, rows of k) at npos
   positions, from patches laid out in fours (dst__q8_patches): group q
   holds inputs 4q .. 4q + 3 of every position side by side, 4 bytes a
   position, a short last group padded with zero bytes. The vector levels
   take 16 (AVX-512 VNNI), 8 (AVX2) or 4 (SSE2, NEON) positions a vector
   against one channel's group of 4 weights broadcast: the layout vpdpbusd
   is made for (4 products added into each position's int32). Without
   VNNI the even and odd bytes of each group are widened to int16 apart and
   multiplied in pairs into int32 (pmaddwd, as q8_dot: no saturation), then
   added; SSE2 and AVX2 do it for 4 channels at once, so that a position
   vector is loaded and split once for 4 channels' products. A
   convolution's k is small (9 for a 3x3 kernel on one channel), so this
   beats a dot product per position, whose lane sums cost more than its
   arithmetic. */

#if defined(DST__SIMD_X86) || defined(DST__SIMD_NEON)
/* weights 4q .. 4q + 3 of a row of k as the 4 bytes of an int32, byte i in
   bits 8i (the order of a little-endian vector's lanes); 0 beyond k */
static int32_t dst__q8_w4(const int8_t *w, size_t k, size_t q)
{
    uint32_t v = 0;
    size_t i;
    for (i = 0; i < 4 && 4 * q + i < k; ++i) v |= (uint32_t)(uint8_t)w[4 * q + i] << (8 * i);
    return (int32_t)v;
}
#endif

/* positions p0 .. npos - 1 of every row, plain C group by group (the
   inner loop runs along the positions): the reference (p0 0), the vector
   kernels' tail, and the path of builds without SIMD */
static void dst__q8_conv_from(const uint8_t *x4, const int8_t *w, size_t k, size_t npos, size_t rows, size_t p0,
                              int32_t *out)
{
    size_t r, q, p, i, nq = (k + 3) / 4;
    for (r = 0; r < rows; ++r) {
        int32_t *o = out + r * npos;
        for (p = p0; p < npos; ++p) o[p] = 0;
        for (q = 0; q < nq; ++q) {
            const uint8_t *xq = x4 + q * npos * 4;
            int32_t wq[4];
            for (i = 0; i < 4; ++i) wq[i] = 4 * q + i < k ? (int32_t)w[r * k + 4 * q + i] : 0;
            for (p = p0; p < npos; ++p)
                o[p] += wq[0] * (int32_t)xq[4 * p] + wq[1] * (int32_t)xq[4 * p + 1] + wq[2] * (int32_t)xq[4 * p + 2] +
                        wq[3] * (int32_t)xq[4 * p + 3];
        }
    }
}

static void dst__q8_conv_scalar(const uint8_t *x4, const int8_t *w, size_t k, size_t npos, size_t rows, int32_t *out)
{
    dst__q8_conv_from(x4, w, k, npos, rows, 0, out);
}

#if defined(DST__SIMD_X86)
/* inputs i and i + 2 of a row of k as two int16 of an int32, 0 beyond k */
static int32_t dst__q8_pair(const int8_t *row, size_t k, size_t i)
{
    uint32_t v = i < k ? (uint16_t)(int16_t)row[i] : 0u;
    if (i + 2 < k) v |= (uint32_t)(uint16_t)(int16_t)row[i + 2] << 16;
    return (int32_t)v;
}

/* The weights of rows 0 .. nr - 1 (nr <= 4, rows of k), groups q0 ..
   q0 + n - 1, as pmaddwd takes them: for group q and row c, wp[8q + 2c]
   holds inputs 4q and 4q + 2 (the even bytes of a position's four) as two
   int16 of an int32, low half first, and wp[8q + 2c + 1] inputs 4q + 1
   and 4q + 3; 0 beyond k. */
#define DST__Q8_CONV_CHUNK 128
static void dst__q8_pairs(const int8_t *w, size_t k, size_t nr, size_t q0, size_t n, int32_t *wp)
{
    size_t q, c, h;
    for (q = 0; q < n; ++q)
        for (c = 0; c < nr; ++c)
            for (h = 0; h < 2; ++h) wp[8 * q + 2 * c + h] = dst__q8_pair(w + c * k, k, 4 * (q0 + q) + h);
}

/* The integer vectors of the SSE2 and AVX2 int8 kernels, by set as the
   float vocabulary above: DST__IVEC(isa) the type, DST__IW(isa) its int32
   lanes; DST__ILOAD / ISTORE (isa, p) unaligned; DST__IZERO(isa),
   DST__ISET1(isa, x) int32 lanes, DST__ISET1_16(isa, x) int16 lanes;
   DST__IADD(isa, a, b) int32 sums, DST__IMADD(isa, a, b) pmaddwd,
   DST__IAND(isa, a, b), DST__ISRLI16(isa, a, n) a logical shift of each
   int16 lane. */
#define DST__IVEC(isa) DST__CAT(dst__ivec_, isa)
#define DST__IW(isa) DST__CAT(DST__IW_, isa)
#define DST__ILOAD(isa, p) DST__CAT(DST__ILOAD_, isa)(p)
#define DST__ISTORE(isa, p, v) DST__CAT(DST__ISTORE_, isa)(p, v)
#define DST__IZERO(isa) DST__CAT(DST__IZERO_, isa)()
#define DST__ISET1(isa, x) DST__CAT(DST__ISET1_, isa)(x)
#define DST__ISET1_16(isa, x) DST__CAT(DST__ISET1_16_, isa)(x)
#define DST__IADD(isa, a, b) DST__CAT(DST__IADD_, isa)(a, b)
#define DST__IMADD(isa, a, b) DST__CAT(DST__IMADD_, isa)(a, b)
#define DST__IAND(isa, a, b) DST__CAT(DST__IAND_, isa)(a, b)
#define DST__ISRLI16(isa, a, n) DST__CAT(DST__ISRLI16_, isa)(a, n)
typedef __m128i dst__ivec_sse2;
#define DST__IW_sse2 4
#define DST__ILOAD_sse2(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define DST__ISTORE_sse2(p, v) _mm_storeu_si128((__m128i *)(void *)(p), v)
#define DST__IZERO_sse2() _mm_setzero_si128()
#define DST__ISET1_sse2(x) _mm_set1_epi32(x)
#define DST__ISET1_16_sse2(x) _mm_set1_epi16(x)
#define DST__IADD_sse2(a, b) _mm_add_epi32(a, b)
#define DST__IMADD_sse2(a, b) _mm_madd_epi16(a, b)
#define DST__IAND_sse2(a, b) _mm_and_si128(a, b)
#define DST__ISRLI16_sse2(a, n) _mm_srli_epi16(a, n)
typedef __m256i dst__ivec_avx2;
#define DST__IW_avx2 8
#define DST__ILOAD_avx2(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define DST__ISTORE_avx2(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), v)
#define DST__IZERO_avx2() _mm256_setzero_si256()
#define DST__ISET1_avx2(x) _mm256_set1_epi32(x)
#define DST__ISET1_16_avx2(x) _mm256_set1_epi16(x)
#define DST__IADD_avx2(a, b) _mm256_add_epi32(a, b)
#define DST__IMADD_avx2(a, b) _mm256_madd_epi16(a, b)
#define DST__IAND_avx2(a, b) _mm256_and_si256(a, b)
#define DST__ISRLI16_avx2(a, n) _mm256_srli_epi16(a, n)

/* SSE2 and AVX2, written once over those vectors (W int32 lanes: W
   positions): tiles of R output channels (4, then the rows left one at a
   time: a depthwise layer has one) x NV vectors of positions. Each
   position vector is loaded and split into its even and its odd bytes
   (widened to int16) once for the R channels, then multiplied in pairs
   into int32 (pmaddwd: no saturation) against each channel's pairs from
   dst__q8_pairs. The groups go in chunks of DST__Q8_CONV_CHUNK (their
   pairs on the stack), the sums carried in out from chunk to chunk; the
   positions past the last whole vector as one more vector ending at npos
   when there is one chunk, else by dst__q8_conv_from. */
#define DST__Q8_CONV_MAC(isa, R, NV, c, A, B)                                                                          \
    if ((c) < (R)) {                                                                                                   \
        DST__IVEC(isa) we_ = DST__ISET1(isa, wp[8 * q_ + 2 * (c)]), wo_ = DST__ISET1(isa, wp[8 * q_ + 2 * (c) + 1]);   \
        A = DST__IADD(isa, A, DST__IADD(isa, DST__IMADD(isa, ea_, we_), DST__IMADD(isa, oa_, wo_)));                   \
        if ((NV) == 2) B = DST__IADD(isa, B, DST__IADD(isa, DST__IMADD(isa, eb_, we_), DST__IMADD(isa, ob_, wo_)));    \
    }
/* channel c's sums so far (0 in the first chunk), and back to out */
#define DST__Q8_CONV_LOAD(isa, R, NV, c, A, B)                                                                         \
    DST__IVEC(isa) A = (c) < (R) && q0 ? DST__ILOAD(isa, out + (r + (c)) * npos + p) : DST__IZERO(isa);               \
    DST__IVEC(isa) B = (c) < (R) && q0 && (NV) == 2 ? DST__ILOAD(isa, out + (r + (c)) * npos + p + DST__IW(isa))       \
                                                    : DST__IZERO(isa);
#define DST__Q8_CONV_STORE(isa, R, NV, c, A, B)                                                                        \
    if ((c) < (R)) {                                                                                                   \
        DST__ISTORE(isa, out + (r + (c)) * npos + p, A);                                                               \
        if ((NV) == 2) DST__ISTORE(isa, out + (r + (c)) * npos + p + DST__IW(isa), B);                                 \
    }
#define DST__Q8_CONV_TILE(isa, R, NV)                                                                                  \
    do {                                                                                                               \
        size_t q_;                                                                                                     \
        DST__Q8_CONV_LOAD(isa, R, NV, 0, a0, b0)                                                                       \
        DST__Q8_CONV_LOAD(isa, R, NV, 1, a1, b1)                                                                       \
        DST__Q8_CONV_LOAD(isa, R, NV, 2, a2, b2)                                                                       \
        DST__Q8_CONV_LOAD(isa, R, NV, 3, a3, b3)                                                                       \
        for (q_ = 0; q_ < nqc; ++q_) {                                                                                 \
            const uint8_t *xq_ = x4 + ((q0 + q_) * npos + p) * 4;                                                      \
            DST__IVEC(isa) xa_ = DST__ILOAD(isa, xq_), ea_ = DST__IAND(isa, xa_, low);                                 \
            DST__IVEC(isa) oa_ = DST__ISRLI16(isa, xa_, 8), eb_ = ea_, ob_ = oa_;                                      \
            if ((NV) == 2) {                                                                                           \
                DST__IVEC(isa) xb_ = DST__ILOAD(isa, xq_ + 4 * DST__IW(isa));                                          \
                eb_ = DST__IAND(isa, xb_, low);                                                                        \
                ob_ = DST__ISRLI16(isa, xb_, 8);                                                                       \
            }                                                                                                          \
            DST__Q8_CONV_MAC(isa, R, NV, 0, a0, b0)                                                                    \
            DST__Q8_CONV_MAC(isa, R, NV, 1, a1, b1)                                                                    \
            DST__Q8_CONV_MAC(isa, R, NV, 2, a2, b2)                                                                    \
            DST__Q8_CONV_MAC(isa, R, NV, 3, a3, b3)                                                                    \
        }                                                                                                              \
        DST__Q8_CONV_STORE(isa, R, NV, 0, a0, b0)                                                                      \
        DST__Q8_CONV_STORE(isa, R, NV, 1, a1, b1)                                                                      \
        DST__Q8_CONV_STORE(isa, R, NV, 2, a2, b2)                                                                      \
        DST__Q8_CONV_STORE(isa, R, NV, 3, a3, b3)                                                                      \
    } while (0)

#define DST__Q8_CONV_BODY(isa)                                                                                         \
    size_t r, q0, p, nq = (k + 3) / 4, pv = npos - npos % DST__IW(isa);                                                \
    /* the positions past pv as one more vector that ends at npos (it                                                  \
       computes some positions again: so only in one chunk of groups) */                                               \
    size_t p_end = npos >= DST__IW(isa) && nq <= DST__Q8_CONV_CHUNK ? npos : pv;                                       \
    int32_t wp[8 * DST__Q8_CONV_CHUNK];                                                                                \
    for (r = 0; r < rows; r += rows - r >= 4 ? 4 : 1) {                                                                \
        size_t nr = rows - r >= 4 ? 4 : 1;                                                                             \
        for (q0 = 0; q0 < nq; q0 += DST__Q8_CONV_CHUNK) {                                                              \
            size_t nqc = nq - q0 < DST__Q8_CONV_CHUNK ? nq - q0 : DST__Q8_CONV_CHUNK;                                  \
            dst__q8_pairs(w + r * k, k, nr, q0, nqc, wp);                                                              \
            if (nr == 4) {                                                                                             \
                for (p = 0; p + 2 * DST__IW(isa) <= pv; p += 2 * DST__IW(isa)) DST__Q8_CONV_TILE(isa, 4, 2);           \
                for (; p < pv; p += DST__IW(isa)) DST__Q8_CONV_TILE(isa, 4, 1);                                        \
                if (pv < p_end) { p = npos - DST__IW(isa); DST__Q8_CONV_TILE(isa, 4, 1); }                             \
            } else {                                                                                                   \
                for (p = 0; p + 2 * DST__IW(isa) <= pv; p += 2 * DST__IW(isa)) DST__Q8_CONV_TILE(isa, 1, 2);           \
                for (; p < pv; p += DST__IW(isa)) DST__Q8_CONV_TILE(isa, 1, 1);                                        \
                if (pv < p_end) { p = npos - DST__IW(isa); DST__Q8_CONV_TILE(isa, 1, 1); }                             \
            }                                                                                                          \
        }                                                                                                              \
    }

#define DST__Q8_CONV_KERNEL(isa)                                                                                       \
static DST__VATTR(isa) void DST__CAT(dst__q8_conv_, isa)(const uint8_t *x4, const int8_t *w, size_t k, size_t npos,    \
                                                         size_t rows, int32_t *out)                                    \
{                                                                                                                      \
    const DST__IVEC(isa) low = DST__ISET1_16(isa, 0xFF);                                                               \
    DST__Q8_CONV_BODY(isa)                                                                                             \
    DST__VLEAVE(isa);                                                                                                  \
    dst__q8_conv_from(x4, w, k, npos, rows, p_end, out);                                                               \
}
DST__Q8_CONV_KERNEL(sse2)
DST__Q8_CONV_KERNEL(avx2)
#undef DST__Q8_CONV_KERNEL
#undef DST__Q8_CONV_BODY
#undef DST__Q8_CONV_TILE
#undef DST__Q8_CONV_MAC
#undef DST__Q8_CONV_LOAD
#undef DST__Q8_CONV_STORE

/* AVX-512 VNNI: 16 positions a vector, four a step, the last ones masked */
static DST__Q8_ATTR_VNNI void dst__q8_conv_avx512vnni(const uint8_t *x4, const int8_t *w, size_t k, size_t npos,
                                                       size_t rows, int32_t *out)
{
    size_t r, q, p, j, nq = (k + 3) / 4;
    for (r = 0; r < rows; ++r) {
        const int8_t *wr = w + r * k;
        int32_t *o = out + r * npos;
        for (p = 0; p < npos; p += 64) {
            __m512i acc[4];
            __mmask16 mk[4];
            for (j = 0; j < 4; ++j) {
                size_t left = npos - p > 16 * j ? npos - p - 16 * j : 0;
                mk[j] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
                acc[j] = _mm512_setzero_si512();
            }
            for (q = 0; q < nq; ++q) {
                __m512i wv = _mm512_set1_epi32(dst__q8_w4(wr, k, q));
                const uint8_t *xq = x4 + (q * npos + p) * 4;
                for (j = 0; j < 4; ++j)
                    acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_maskz_loadu_epi32(mk[j], xq + 64 * j), wv);
            }
            for (j = 0; j < 4; ++j) _mm512_mask_storeu_epi32(o + p + 16 * j, mk[j], acc[j]);
        }
    }
}
#endif /* DST__SIMD_X86 */
#if defined(DST__SIMD_NEON)
/* 4 positions a vector: even and odd bytes widened apart, multiplied into
   int32 (vmull, vmlal: lane 2i + h holds position i's products of half h),
   then the halves added pairwise (vpaddq) */
static void dst__q8_conv_neon(const uint8_t *x4, const int8_t *w, size_t k, size_t npos, size_t rows, int32_t *out)
{
    size_t r, q, p, nq = (k + 3) / 4, pv = npos & ~(size_t)3;
    const uint16x8_t low = vdupq_n_u16(0xFF);
    for (r = 0; r < rows; ++r) {
        const int8_t *wr = w + r * k;
        int32_t *o = out + r * npos;
        for (p = 0; p < pv; p += 4) {
            int32x4_t acc = vdupq_n_s32(0);
            for (q = 0; q < nq; ++q) {
                int16x8_t wv = vreinterpretq_s16_s32(vdupq_n_s32(dst__q8_w4(wr, k, q)));
                int16x8_t we = vshrq_n_s16(vshlq_n_s16(wv, 8), 8), wo = vshrq_n_s16(wv, 8);
                uint16x8_t xv = vreinterpretq_u16_u8(vld1q_u8(x4 + (q * npos + p) * 4));
                int16x8_t xe = vreinterpretq_s16_u16(vandq_u16(xv, low)), xo = vreinterpretq_s16_u16(vshrq_n_u16(xv, 8));
                int32x4_t lo = vmlal_s16(vmull_s16(vget_low_s16(xe), vget_low_s16(we)), vget_low_s16(xo), vget_low_s16(wo));
                int32x4_t hi = vmlal_high_s16(vmull_high_s16(xe, we), xo, wo);
                acc = vaddq_s32(acc, vpaddq_s32(lo, hi));
            }
            vst1q_s32(o + p, acc);
        }
    }
    dst__q8_conv_from(x4, w, k, npos, rows, pv, out);
}
#endif
#if defined(DST__NEON_DOT)
/* With the dot-product instructions: sdot adds 4 s8 x s8 products into each
   int32 lane, the layout of q8_conv's groups (as VNNI's vpdpbusd, which
   takes u8 x s8). The uint8 activations become int8 by flipping their top
   bit (x - 128), and 128 x the weights' sum is added back: for q8_dot a
   second sdot of -128 against the same weights (acc - cor = sum (x - 128)
   w + 128 sum w), for q8_conv once per channel. Sums are exact, so the bits
   are q8_dot_neon's. */
DST__TARGET_DOT
static void dst__q8_dot_neondot(const uint8_t *x, const int8_t *w, size_t k, size_t rows, size_t ldw, int32_t *out,
                                size_t ostride)
{
    size_t r, i, kv = k & ~(size_t)15;
    const uint8x16_t top = vdupq_n_u8(0x80);
    const int8x16_t m128 = vdupq_n_s8(-128);
    for (r = 0; r < rows; ++r, w += ldw) {
        int32x4_t acc = vdupq_n_s32(0), cor = vdupq_n_s32(0);
        int32_t s;
        for (i = 0; i < kv; i += 16) {
            int8x16_t wv = vld1q_s8(w + i);
            acc = vdotq_s32(acc, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(x + i), top)), wv);
            cor = vdotq_s32(cor, m128, wv);
        }
        s = vaddvq_s32(vsubq_s32(acc, cor));
        for (i = kv; i < k; ++i) s += (int32_t)x[i] * (int32_t)w[i];
        out[r * ostride] = s;
    }
}

DST__TARGET_DOT
static void dst__q8_conv_neondot(const uint8_t *x4, const int8_t *w, size_t k, size_t npos, size_t rows, int32_t *out)
{
    size_t r, q, p, i, nq = (k + 3) / 4, pv = npos & ~(size_t)3;
    const uint8x16_t top = vdupq_n_u8(0x80);
    for (r = 0; r < rows; ++r) {
        const int8_t *wr = w + r * k;
        int32_t *o = out + r * npos, back = 0;
        for (i = 0; i < k; ++i) back += 128 * (int32_t)wr[i];
        for (p = 0; p < pv; p += 4) {
            int32x4_t acc = vdupq_n_s32(back);
            for (q = 0; q < nq; ++q) {
                int8x16_t wv = vreinterpretq_s8_s32(vdupq_n_s32(dst__q8_w4(wr, k, q)));
                uint8x16_t xv = veorq_u8(vld1q_u8(x4 + (q * npos + p) * 4), top);
                acc = vdotq_s32(acc, vreinterpretq_s8_u8(xv), wv);
            }
            vst1q_s32(o + p, acc);
        }
    }
    dst__q8_conv_from(x4, w, k, npos, rows, pv, out);
}
#endif

/* ---- int8 convolution: interleaving four rows of bytes ----
   q8_rows4 gives dst[4 (y n + j) + i] = src[i][y stride + j] for y < rows,
   j < n and i < 4: rows of positions of a group of four inputs in the
   layout of q8_conv. The vector levels take 16 positions a step, a row
   after the other, and may read up to 15 bytes past each src[i] + (rows -
   1) stride + n and write up to 63 bytes past a row's end (into the next
   row, written after it, or past dst + 4 rows n: dst__q8_patches_rows
   leaves room for both); plain C does neither. */
static void dst__q8_rows4_scalar(const uint8_t *const *src, size_t n, size_t rows, size_t stride, uint8_t *dst)
{
    size_t y, j, i;
    for (y = 0; y < rows; ++y)
        for (j = 0; j < n; ++j)
            for (i = 0; i < 4; ++i) dst[4 * (y * n + j) + i] = src[i][y * stride + j];
}

#if defined(DST__SIMD_X86)
/* bytes of rows 0 and 1 paired, of rows 2 and 3 paired, then the pairs paired */
static void dst__q8_rows4_sse2(const uint8_t *const *src, size_t n, size_t rows, size_t stride, uint8_t *dst)
{
    size_t y, j;
    for (y = 0; y < rows; ++y)
        for (j = 0; j < n; j += 16) {
            size_t at = y * stride + j;
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src[0] + at));
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src[1] + at));
            __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src[2] + at));
            __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src[3] + at));
            __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
            __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
            __m128i *o = (__m128i *)(void *)(dst + 4 * (y * n + j));
            _mm_storeu_si128(o, _mm_unpacklo_epi16(ab0, cd0));
            _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(ab0, cd0));
            _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(ab1, cd1));
            _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(ab1, cd1));
        }
}
#endif
#if defined(DST__SIMD_NEON)
/* an interleaving store of four registers does it */
static void dst__q8_rows4_neon(const uint8_t *const *src, size_t n, size_t rows, size_t stride, uint8_t *dst)
{
    size_t y, j;
    for (y = 0; y < rows; ++y)
        for (j = 0; j < n; j += 16) {
            size_t at = y * stride + j;
            uint8x16x4_t v;
            v.val[0] = vld1q_u8(src[0] + at);
            v.val[1] = vld1q_u8(src[1] + at);
            v.val[2] = vld1q_u8(src[2] + at);
            v.val[3] = vld1q_u8(src[3] + at);
            vst4q_u8(dst + 4 * (y * n + j), v);
        }
}
#endif

/* ---- int8 max pooling, 2x2 windows, stride 2 ----
   q8_max2x2 gives o[j] = the largest of r0[2j], r0[2j + 1], r1[2j],
   r1[2j + 1] for j < n: one output row from two input rows. The vector
   levels take 8 outputs a step, the last step ending at n (it computes a
   few outputs again); they read and write nothing beyond the rows. */
static void dst__q8_max2x2_scalar(const uint8_t *r0, const uint8_t *r1, size_t n, uint8_t *o)
{
    size_t j;
    for (j = 0; j < n; ++j) {
        uint8_t a = r0[2 * j] > r0[2 * j + 1] ? r0[2 * j] : r0[2 * j + 1];
        uint8_t b = r1[2 * j] > r1[2 * j + 1] ? r1[2 * j] : r1[2 * j + 1];
        o[j] = a > b ? a : b;
    }
}

#if defined(DST__SIMD_X86)
static void dst__q8_max2x2_sse2(const uint8_t *r0, const uint8_t *r1, size_t n, uint8_t *o)
{
    const __m128i low = _mm_set1_epi16(0xFF);
    size_t j = 0;
    if (n < 8) {
        dst__q8_max2x2_scalar(r0, r1, n, o);
        return;
    }
    for (;;) {
        __m128i v = _mm_max_epu8(_mm_loadu_si128((const __m128i *)(const void *)(r0 + 2 * j)),
                                 _mm_loadu_si128((const __m128i *)(const void *)(r1 + 2 * j)));
        v = _mm_and_si128(_mm_max_epu8(v, _mm_srli_epi16(v, 8)), low); /* each pair's largest in its even byte */
        _mm_storel_epi64((__m128i *)(void *)(o + j), _mm_packus_epi16(v, v));
        if (j + 8 == n) break;
        j = j + 16 <= n ? j + 8 : n - 8;
    }
}
#endif
#if defined(DST__SIMD_NEON)
/* de-interleaving loads give the even and the odd bytes apart */
static void dst__q8_max2x2_neon(const uint8_t *r0, const uint8_t *r1, size_t n, uint8_t *o)
{
    size_t j = 0;
    if (n < 8) {
        dst__q8_max2x2_scalar(r0, r1, n, o);
        return;
    }
    for (;;) {
        uint8x8x2_t a = vld2_u8(r0 + 2 * j), b = vld2_u8(r1 + 2 * j);
        vst1_u8(o + j, vmax_u8(vmax_u8(a.val[0], a.val[1]), vmax_u8(b.val[0], b.val[1])));
        if (j + 8 == n) break;
        j = j + 16 <= n ? j + 8 : n - 8;
    }
}
#endif

/* ---- requantize: int32 sums to uint8 ----
   y[j] = clamp(((float)acc[j] + k[0]) k[1] + k[2], k[3], 255), truncated:
   k = { bias, multiplier, zero point + 0.5, lowest } (lowest: 0, or the
   zero point + 0.5 under a fused ReLU), so the result is rounded half up.
   The same float operations in the same order on every level: the same
   bits. */
static uint8_t dst__q8_requant_one(int32_t acc, const float *k)
{
    float v = ((float)acc + k[0]) * k[1] + k[2];
    if (!(v >= k[3])) v = k[3];
    if (v > 255.0f) v = 255.0f;
    return (uint8_t)v; /* v >= 0: truncation is floor */
}

static void dst__q8_requant_scalar(const int32_t *acc, size_t n, const float *k, uint8_t *y)
{
    size_t j;
    for (j = 0; j < n; ++j) y[j] = dst__q8_requant_one(acc[j], k);
}

#if defined(DST__SIMD_X86)
/* 16 a step: four vectors of 4, packed to bytes by saturating packs (the
   values are already in [0, 255]) */
static void dst__q8_requant_sse2(const int32_t *acc, size_t n, const float *k, uint8_t *y)
{
    size_t j;
    const __m128 b = _mm_set1_ps(k[0]), m = _mm_set1_ps(k[1]), z = _mm_set1_ps(k[2]), lo = _mm_set1_ps(k[3]),
                 hi = _mm_set1_ps(255.0f);
    for (j = 0; j + 16 <= n; j += 16) {
        __m128i q[4];
        int i;
        for (i = 0; i < 4; ++i) {
            __m128 v = _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(const void *)(acc + j + 4 * i)));
            v = _mm_add_ps(_mm_mul_ps(_mm_add_ps(v, b), m), z);
            q[i] = _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(v, lo), hi));
        }
        _mm_storeu_si128((__m128i *)(void *)(y + j),
                         _mm_packus_epi16(_mm_packs_epi32(q[0], q[1]), _mm_packs_epi32(q[2], q[3])));
    }
    dst__q8_requant_scalar(acc + j, n - j, k, y + j);
}

/* 32 a step, the rest by SSE2; packs work within 128-bit halves, so the
   bytes come out in fours to put in order (vpermd). AVX2 without FMA in
   its attribute: no multiply-add can be fused. */
static DST__TARGET("avx2") void dst__q8_requant_avx2(const int32_t *acc, size_t n, const float *k, uint8_t *y)
{
    size_t j;
    const __m256 b = _mm256_set1_ps(k[0]), m = _mm256_set1_ps(k[1]), z = _mm256_set1_ps(k[2]), lo = _mm256_set1_ps(k[3]),
                 hi = _mm256_set1_ps(255.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (j = 0; j + 32 <= n; j += 32) {
        __m256i q[4];
        int i;
        for (i = 0; i < 4; ++i) {
            __m256 v = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(const void *)(acc + j + 8 * i)));
            v = _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(v, b), m), z);
            q[i] = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
        }
        _mm256_storeu_si256((__m256i *)(void *)(y + j),
                            _mm256_permutevar8x32_epi32(_mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]),
                                                                            _mm256_packs_epi32(q[2], q[3])), order));
    }
    DST__VLEAVE(avx2);
    dst__q8_requant_sse2(acc + j, n - j, k, y + j);
}
#endif

/* ---- quantize, dequantize ----
   real = scale (q - zero). Values are rounded half up once the zero point
   is added (they are then >= 0), in float, then clamped to [0, 255]; by
   truncation, not floor(), which is a call on some targets. */

static void dst__q8_quantize_scalar(const float *x, size_t n, float scale, int32_t zero, uint8_t *q)
{
    size_t i;
    float inv = 1.0f / scale, zf = (float)zero + 0.5f;
    for (i = 0; i < n; ++i) {
        float v = x[i] * inv + zf;
        q[i] = !(v > 0) ? 0 : v >= 255.0f ? 255 : (uint8_t)v; /* NaN: 0; truncation of v > 0 is floor */
    }
}

#if defined(DST__SIMD_X86)
/* 16 a step; max(v, 0) gives 0 for a NaN v, as the scalar loop */
static void dst__q8_quantize_sse2(const float *x, size_t n, float scale, int32_t zero, uint8_t *q)
{
    size_t i;
    float inv = 1.0f / scale, zf = (float)zero + 0.5f;
    const __m128 vi = _mm_set1_ps(inv), vz = _mm_set1_ps(zf), lo = _mm_setzero_ps(), hi = _mm_set1_ps(255.0f);
    for (i = 0; i + 16 <= n; i += 16) {
        __m128i t[4];
        int j;
        for (j = 0; j < 4; ++j) {
            __m128 v = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + i + 4 * j), vi), vz);
            t[j] = _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(v, lo), hi));
        }
        _mm_storeu_si128((__m128i *)(void *)(q + i), _mm_packus_epi16(_mm_packs_epi32(t[0], t[1]), _mm_packs_epi32(t[2], t[3])));
    }
    dst__q8_quantize_scalar(x + i, n - i, scale, zero, q + i);
}
#endif

static void dst__q8_quantize(const float *x, size_t n, float scale, int32_t zero, uint8_t *q)
{
    dst__kern()->q8_quantize(x, n, scale, zero, q);
}

#ifndef DST_INFERENCE_ONLY
/* Quantization-aware training's two passes over a tensor of n >= 1 values
   (dst__qat_tensor): its minimum and maximum (a NaN passed over, unless
   v[0] is one: then both are NaN); and the rounding in place to the int8
   model's levels, as dst__q8_quantize then dst__q8_dequantize, with
   keep[j] (keep may be NULL) 1 where the value lay inside the range, 0
   where it was clamped. */
static void dst__qat_range_scalar(const float *v, size_t n, float *lo_out, float *hi_out)
{
    float lo = v[0], hi = v[0];
    size_t j;
    for (j = 1; j < n; ++j) {
        lo = v[j] < lo ? v[j] : lo;
        hi = v[j] > hi ? v[j] : hi;
    }
    *lo_out = lo;
    *hi_out = hi;
}

static void dst__qat_round_scalar(float *v, size_t n, float scale, int32_t zero, unsigned char *keep)
{
    float inv = 1.0f / scale, zf = (float)zero + 0.5f;
    size_t j;
    for (j = 0; j < n; ++j) {
        float u = v[j] * inv + zf, c = u > 0 ? u : 0.0f; /* (a NaN to 0) */
        c = c < 255.0f ? c : 255.0f;
        if (keep) keep[j] = (unsigned char)((u >= 0) & (u < 256.0f));
        v[j] = scale * (float)((int32_t)c - zero);
    }
}

#if defined(DST__SIMD_X86)
/* minps(x, lo) is x < lo ? x : lo, and maxps alike: the scalar loop's
   choices lane by lane, NaNs included; the lanes then meet as it does */
static void dst__qat_range_sse2(const float *v, size_t n, float *lo_out, float *hi_out)
{
    __m128 lo0 = _mm_set1_ps(v[0]), hi0 = lo0, lo1 = lo0, hi1 = lo0;
    float l[8], h[8], lo, hi;
    size_t j;
    int k;
    for (j = 0; j + 8 <= n; j += 8) {
        __m128 a = _mm_loadu_ps(v + j), b = _mm_loadu_ps(v + j + 4);
        lo0 = _mm_min_ps(a, lo0); hi0 = _mm_max_ps(a, hi0);
        lo1 = _mm_min_ps(b, lo1); hi1 = _mm_max_ps(b, hi1);
    }
    _mm_storeu_ps(l, lo0); _mm_storeu_ps(l + 4, lo1);
    _mm_storeu_ps(h, hi0); _mm_storeu_ps(h + 4, hi1);
    lo = l[0]; hi = h[0];
    for (k = 1; k < 8; ++k) {
        lo = l[k] < lo ? l[k] : lo;
        hi = h[k] > hi ? h[k] : hi;
    }
    for (; j < n; ++j) {
        lo = v[j] < lo ? v[j] : lo;
        hi = v[j] > hi ? v[j] : hi;
    }
    *lo_out = lo;
    *hi_out = hi;
}

/* max(u, 0) gives 0 for a NaN u, as the scalar loop; the keep bytes from
   the inside mask's bits */
static void dst__qat_round_sse2(float *v, size_t n, float scale, int32_t zero, unsigned char *keep)
{
    float inv = 1.0f / scale, zf = (float)zero + 0.5f;
    const __m128 vi = _mm_set1_ps(inv), vz = _mm_set1_ps(zf), vs = _mm_set1_ps(scale), lo = _mm_setzero_ps(),
                 hi = _mm_set1_ps(255.0f), top = _mm_set1_ps(256.0f);
    const __m128i z = _mm_set1_epi32(zero);
    size_t j;
    for (j = 0; j + 4 <= n; j += 4) {
        __m128 u = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + j), vi), vz);
        __m128i c = _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(u, lo), hi));
        if (keep) {
            int in = _mm_movemask_ps(_mm_and_ps(_mm_cmpge_ps(u, lo), _mm_cmplt_ps(u, top)));
            keep[j] = (unsigned char)(in & 1);
            keep[j + 1] = (unsigned char)(in >> 1 & 1);
            keep[j + 2] = (unsigned char)(in >> 2 & 1);
            keep[j + 3] = (unsigned char)(in >> 3);
        }
        _mm_storeu_ps(v + j, _mm_mul_ps(vs, _mm_cvtepi32_ps(_mm_sub_epi32(c, z))));
    }
    dst__qat_round_scalar(v + j, n - j, scale, zero, keep ? keep + j : NULL);
}
#endif
#endif /* DST_INFERENCE_ONLY */

static void dst__q8_dequantize(const uint8_t *q, size_t n, float scale, int32_t zero, float *y)
{
    size_t i;
    for (i = 0; i < n; ++i) y[i] = scale * (float)((int32_t)q[i] - zero);
}

/* max pooling: the zero point maps order to order, so the integer maximum
   is the quantized maximum (same scale in and out); padding never wins */
static void dst__q8_maxpool(const dst_pool2d_params *p, int batch, const uint8_t *x, uint8_t *y)
{
    const dst__kernels *kt = dst__kern();
    int oh = dst__pool_out_h(p), ow = dst__pool_out_w(p), yo, xo, h, w, h0, h1, w0, w1;
    size_t c, planes = (size_t)batch * p->channels, in_plane = (size_t)p->in_h * p->in_w;
    int two = p->kernel_h == 2 && p->kernel_w == 2 && p->stride_h == 2 && p->stride_w == 2 && p->pad_h == 0 &&
              p->pad_w == 0; /* the common 2x2 window: no window arithmetic */
    for (c = 0; c < planes; ++c) {
        const uint8_t *src = x + c * in_plane;
        uint8_t *o = y + c * (size_t)oh * ow;
        if (two) {
            for (yo = 0; yo < oh; ++yo) {
                const uint8_t *r0 = src + (size_t)2 * yo * p->in_w;
                kt->q8_max2x2(r0, r0 + p->in_w, (size_t)ow, o + (size_t)yo * ow);
            }
            continue;
        }
        for (yo = 0; yo < oh; ++yo)
            for (xo = 0; xo < ow; ++xo) {
                uint8_t best = 0;
                dst__pool_window(p, yo, xo, &h0, &h1, &w0, &w1);
                for (h = h0; h < h1; ++h)
                    for (w = w0; w < w1; ++w) if (src[h * p->in_w + w] > best) best = src[h * p->in_w + w];
                o[(size_t)yo * ow + xo] = best;
            }
    }
}

/* average pooling, count_include_pad as the float path: padding is a real
   0, the zero point; the mean rounds half up (same scale in and out) */
static void dst__q8_avgpool(const dst_pool2d_params *p, int batch, const uint8_t *x, int32_t zero, uint8_t *y)
{
    int oh = dst__pool_out_h(p), ow = dst__pool_out_w(p), yo, xo, h, w, h0, h1, w0, w1;
    size_t c, planes = (size_t)batch * p->channels, in_plane = (size_t)p->in_h * p->in_w;
    int64_t area = (int64_t)p->kernel_h * p->kernel_w;
    for (c = 0; c < planes; ++c) {
        const uint8_t *src = x + c * in_plane;
        uint8_t *o = y + c * (size_t)oh * ow;
        for (yo = 0; yo < oh; ++yo)
            for (xo = 0; xo < ow; ++xo) {
                int64_t s;
                dst__pool_window(p, yo, xo, &h0, &h1, &w0, &w1);
                s = (area - (int64_t)(h1 - h0) * (w1 - w0)) * zero;
                for (h = h0; h < h1; ++h)
                    for (w = w0; w < w1; ++w) s += src[h * p->in_w + w];
                o[(size_t)yo * ow + xo] = (uint8_t)((2 * s + area) / (2 * area));
            }
    }
}

/* The patches of one sample's group g for an integer convolution, in the
   layout of q8_conv: input i (in the weight's order: channel, kernel row,
   kernel column) of position pos at col[((i / 4) npos + pos) 4 + i % 4];
   outside the input, the zero point (a real 0); the last group's bytes
   beyond k, 0. Filled input by input, row of positions by row: the source
   runs along an input row. Any stride; the reference of
   dst__q8_patches_rows. */
static void dst__q8_patches_any(const dst_conv2d_params *p, const uint8_t *x, int g, uint8_t zero, uint8_t *col)
{
    int oh = dst__conv_out_h(p), ow = dst__conv_out_w(p), cg = p->in_c / p->groups, yo, xo, c, ky, kx;
    size_t k = (size_t)cg * p->kernel_h * p->kernel_w, npos = (size_t)oh * ow, nq = (k + 3) / 4, i = 0;
    if (k % 4) memset(col + (nq - 1) * npos * 4, 0, npos * 4);
    for (c = 0; c < cg; ++c) {
        const uint8_t *plane = x + (size_t)(g * cg + c) * p->in_h * p->in_w;
        for (ky = 0; ky < p->kernel_h; ++ky)
            for (kx = 0; kx < p->kernel_w; ++kx, ++i) {
                uint8_t *d = col + (i >> 2) * npos * 4 + (i & 3);
                int ix0 = kx * p->dilation_w - p->pad_w;
                /* the positions xo in [lo, hi) read inside the row: ix0 + xo stride >= 0 and < in_w */
                int lo = ix0 >= 0 ? 0 : (-ix0 + p->stride_w - 1) / p->stride_w;
                int hi = p->in_w - ix0 <= 0 ? 0 : (p->in_w - ix0 + p->stride_w - 1) / p->stride_w;
                if (hi > ow) hi = ow;
                if (lo > hi) lo = hi;
                for (yo = 0; yo < oh; ++yo, d += (size_t)ow * 4) {
                    int iy = yo * p->stride_h - p->pad_h + ky * p->dilation_h;
                    const uint8_t *row;
                    if (iy < 0 || iy >= p->in_h) {
                        for (xo = 0; xo < ow; ++xo) d[4 * xo] = zero;
                        continue;
                    }
                    row = plane + (size_t)iy * p->in_w;
                    for (xo = 0; xo < lo; ++xo) d[4 * xo] = zero;
                    for (; xo < hi; ++xo) d[4 * xo] = row[ix0 + xo * p->stride_w];
                    for (; xo < ow; ++xo) d[4 * xo] = zero;
                }
            }
    }
}

/* The bytes an int8 convolution's forward needs in m->col for one sample's
   group: the patches (dst__q8_patches' layout, then 64 bytes to spare for
   q8_rows4's writes) and, with stride_w 1, the padded copy of the group's
   input planes and a plane of zeros that dst__q8_patches_rows reads, each
   with 16 bytes to spare (*pad_at: where they start). */
static size_t dst__q8_col_bytes(const dst_conv2d_params *p, size_t *pad_at)
{
    size_t k = (size_t)(p->in_c / p->groups) * p->kernel_h * p->kernel_w;
    size_t npos = (size_t)dst__conv_out_h(p) * dst__conv_out_w(p), ph = (size_t)p->in_h + 2 * p->pad_h,
           pw = (size_t)p->in_w + 2 * p->pad_w;
    size_t at = ((k + 3) / 4 * 4 * npos + 64 + 63) & ~(size_t)63;
    *pad_at = at;
    return p->stride_w == 1 ? at + (size_t)(p->in_c / p->groups + 1) * (ph * pw + 16) : at;
}

/* The patches when stride_w is 1: the group's planes copied once into pad,
   the zero point around them as far as the padding reaches; then each
   kernel input's row of positions is a run of that copy, and each group of
   four inputs' rows are interleaved by q8_rows4, all rows in one call
   (bytes beyond k from a plane of zeros after the copy). The same bytes
   as dst__q8_patches_any. */
static void dst__q8_patches_rows(const dst_conv2d_params *p, const uint8_t *x, int g, uint8_t zero, uint8_t *col,
                                 uint8_t *pad, const dst__kernels *kt)
{
    int oh = dst__conv_out_h(p), ow = dst__conv_out_w(p), cg = p->in_c / p->groups, c, y;
    size_t ph = (size_t)p->in_h + 2 * p->pad_h, pw = (size_t)p->in_w + 2 * p->pad_w, plane = ph * pw;
    size_t taps = (size_t)p->kernel_h * p->kernel_w, k = (size_t)cg * taps, nq = (k + 3) / 4, npos = (size_t)oh * ow, q, i;
    uint8_t *zeros = pad + (size_t)cg * plane + 16;
    if (k % 4) memset(zeros, 0, plane + 16);
    if (p->pad_h == 0 && p->pad_w == 0) { /* the planes as they are */
        memcpy(pad, x + (size_t)g * cg * plane, (size_t)cg * plane);
        memset(pad + (size_t)cg * plane, zero, 16);
    } else {
        memset(pad, zero, (size_t)cg * plane + 16);
        for (c = 0; c < cg; ++c)
            for (y = 0; y < p->in_h; ++y)
                memcpy(pad + (size_t)c * plane + (size_t)(y + p->pad_h) * pw + p->pad_w,
                       x + ((size_t)(g * cg + c) * p->in_h + y) * p->in_w, (size_t)p->in_w);
    }
    for (q = 0; q < nq; ++q) {
        const uint8_t *src[4];
        for (i = 0; i < 4; ++i) {
            size_t in = 4 * q + i, t = in % taps;
            src[i] = in >= k ? zeros
                             : pad + in / taps * plane + t / (size_t)p->kernel_w * p->dilation_h * pw +
                                   t % (size_t)p->kernel_w * p->dilation_w;
        }
        kt->q8_rows4(src, (size_t)ow, (size_t)oh, (size_t)p->stride_h * pw, col + q * npos * 4);
    }
}

/* The patches of one sample's group g, col as dst__q8_col_bytes lays it out. */
static void dst__q8_patches(const dst_conv2d_params *p, const uint8_t *x, int g, uint8_t zero, uint8_t *col,
                            const dst__kernels *kt)
{
    size_t pad_at;
    dst__q8_col_bytes(p, &pad_at);
    if (p->stride_w == 1) dst__q8_patches_rows(p, x, g, zero, col, col + pad_at, kt);
    else dst__q8_patches_any(p, x, g, zero, col);
}

/* ==== random numbers ============================================== >>rng */

DSTDEF void dst_rng_seed(dst_rng *rng, uint64_t seed) { rng->state = seed; }

DSTDEF uint64_t dst_rng_next(dst_rng *rng)
{
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

DSTDEF float dst_rng_uniform(dst_rng *rng)
{
    return (float)(dst_rng_next(rng) >> 40) * (1.0f / 16777216.0f);
}

DSTDEF float dst_rng_normal(dst_rng *rng)
{
    /* Box-Muller in double so the value is the same wherever libm is good */
    double u1 = ((double)(dst_rng_next(rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(dst_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

DSTDEF size_t dst_rng_below(dst_rng *rng, size_t bound)
{
    /* rejection sampling: no modulo bias */
    uint64_t b = bound ? (uint64_t)bound : 1, limit = (uint64_t)0 - ((uint64_t)0 - b) % b, r;
    do r = dst_rng_next(rng); while (limit != 0 && r >= limit);
    return (size_t)(r % b);
}

#ifndef DST_INFERENCE_ONLY /* (0, 1), Gamma and Beta draws: mixup (training) */
/* A double in (0, 1): never 0, so its log is finite. */
static double dst__rng_open01(dst_rng *rng)
{
    return ((double)(dst_rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Gamma(a, 1), a > 0: Marsaglia and Tsang (2000); for a < 1 the draw for
   a + 1 times U^(1/a). */
static double dst__rng_gamma(dst_rng *rng, double a)
{
    double boost = 1, d, c, x, v, u;
    if (a < 1) {
        boost = pow(dst__rng_open01(rng), 1.0 / a);
        a += 1;
    }
    d = a - 1.0 / 3.0;
    c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        do {
            x = (double)dst_rng_normal(rng);
            v = 1 + c * x;
        } while (v <= 0);
        v = v * v * v;
        u = dst__rng_open01(rng);
        if (u < 1 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1 - v + log(v))) return d * v * boost;
    }
}

/* Beta(a, a) from two Gamma(a) draws: g1 / (g1 + g2) (1 when both underflow). */
static double dst__rng_beta_sym(dst_rng *rng, double a)
{
    double g1 = dst__rng_gamma(rng, a), g2 = dst__rng_gamma(rng, a);
    return g1 + g2 > 0 ? g1 / (g1 + g2) : 1.0;
}
#endif

/* ==== optimizers ================================================== >>opt */

DSTDEF dst_optimizer_config dst_optimizer_default(dst_optimizer_kind kind)
{
    dst_optimizer_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.lr = kind == DST_SGD ? 0.01f : 0.001f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = kind == DST_ADAMW ? 0.01f : 0.0f;
    return c;
}

DSTDEF dst_result dst_optimizer_check(const dst_optimizer_config *c, dst_error *err)
{
    if (!c) return dst__err(err, DST_ERR_ARG, "optimizer config is NULL");
    if (c->kind != DST_SGD && c->kind != DST_ADAM && c->kind != DST_ADAMW)
        return dst__err(err, DST_ERR_ARG, "unknown optimizer kind %d", (int)c->kind);
    if (!(c->lr >= 0) || !dst__finite(c->lr))
        return dst__err(err, DST_ERR_ARG, "learning rate %g: must be finite and >= 0", (double)c->lr);
    if (!(c->weight_decay >= 0) || !dst__finite(c->weight_decay))
        return dst__err(err, DST_ERR_ARG, "weight_decay %g: must be finite and >= 0", (double)c->weight_decay);
    if (!(c->clip_norm >= 0) || !dst__finite(c->clip_norm))
        return dst__err(err, DST_ERR_ARG, "clip_norm %g: must be finite and >= 0 (0 = off)", (double)c->clip_norm);
    if (c->kind == DST_SGD) {
        if (!(c->momentum >= 0) || !dst__finite(c->momentum))
            return dst__err(err, DST_ERR_ARG, "momentum %g: must be finite and >= 0", (double)c->momentum);
        if (!(c->dampening >= 0 && c->dampening <= 1))
            return dst__err(err, DST_ERR_ARG, "dampening %g: must be in [0, 1]", (double)c->dampening);
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return dst__err(err, DST_ERR_ARG, "Nesterov momentum needs momentum > 0 and dampening 0");
    } else {
        if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
            return dst__err(err, DST_ERR_ARG, "betas (%g, %g): each must be in [0, 1)",
                            (double)c->beta1, (double)c->beta2);
        if (!(c->eps >= 0) || !dst__finite(c->eps))
            return dst__err(err, DST_ERR_ARG, "eps %g: must be finite and >= 0", (double)c->eps);
    }
    return DST_OK;
}

DSTDEF int dst_optimizer_state_count(const dst_optimizer_config *c)
{
    if (c->kind == DST_SGD) return c->momentum != 0 ? 1 : 0;
    return 2;
}

#ifndef DST_INFERENCE_ONLY /* the optimizers themselves: not in an inference-only build (their
   configuration above stays: a model holds one, the weight file records it) */

/* PyTorch's torch.optim.SGD and Adam / AdamW (single-tensor form) over one
   flat array. The scalar loops are the reference; the vector ones (SSE2,
   AVX, NEON) do the same operations in the same order, 4 or 8 values at a
   time, and give the same bits (tests/test_elementwise.c compares them). The hyperparameters are worked
   out once per update, so no branch is left inside the vector loops. */
struct dst__opt_consts {
    float lr, wd;
    float mom, damp;        /* SGD: momentum, 1 - dampening */
    int   first, nesterov;  /* SGD: step 1 (the buffer starts as the gradient); Nesterov */
    float b1, b2, one_b1, one_b2;   /* Adam: the betas and 1 - each */
    float step_size, bc2_sqrt;      /* Adam: lr / (1 - b1^t), sqrt(1 - b2^t) */
    float eps, decay;               /* Adam: eps; AdamW: 1 - lr wd */
    int   decoupled;                /* AdamW */
};

static dst__opt_consts dst__opt_consts_of(const dst_optimizer_config *c, float lr, long step)
{
    dst__opt_consts k;
    memset(&k, 0, sizeof k);
    k.lr = lr;
    k.wd = c->weight_decay;
    k.mom = c->momentum;
    k.damp = 1.0f - c->dampening;
    k.first = step <= 1;
    k.nesterov = c->nesterov != 0;
    k.b1 = c->beta1;
    k.b2 = c->beta2;
    k.one_b1 = 1.0f - c->beta1;
    k.one_b2 = 1.0f - c->beta2;
    k.step_size = lr / (1.0f - (float)pow((double)c->beta1, (double)step));
    k.bc2_sqrt = (float)sqrt(1.0 - pow((double)c->beta2, (double)step));
    k.eps = c->eps;
    k.decay = 1.0f - lr * c->weight_decay;
    k.decoupled = c->kind == DST_ADAMW;
    return k;
}

/* SGD: d = g + wd p; with momentum (buf not NULL) buf = d at step 1, else
   mom buf + damp d, then d = buf (Nesterov: d + mom buf); p -= lr d. */
static void dst__sgd_scalar(const dst__opt_consts *k, float *DST__RESTRICT p, const float *DST__RESTRICT g,
                            float *DST__RESTRICT buf, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        float d = g[i] + k->wd * p[i];
        if (buf) {
            buf[i] = k->first ? d : k->mom * buf[i] + k->damp * d;
            d = k->nesterov ? d + k->mom * buf[i] : buf[i];
        }
        p[i] -= k->lr * d;
    }
}

/* Adam: d = g + wd p (AdamW: p *= 1 - lr wd, d = g); m = b1 m + (1 - b1) d;
   v = b2 v + (1 - b2) d d; p -= step_size m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
static void dst__adam_scalar(const dst__opt_consts *k, float *DST__RESTRICT p, const float *DST__RESTRICT g,
                             float *DST__RESTRICT m, float *DST__RESTRICT v, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        float d = g[i];
        if (k->decoupled) p[i] *= k->decay;
        else d += k->wd * p[i];
        m[i] = k->b1 * m[i] + k->one_b1 * d;
        v[i] = k->b2 * v[i] + k->one_b2 * d * d;
        p[i] -= k->step_size * m[i] / (sqrtf(v[i]) / k->bc2_sqrt + k->eps);
    }
}

/* The vector loops, written once over the vector vocabulary (vs: the set)
   and named dst__sgd_<isa>, dst__adam_<isa>: dst__sgd_sse2, dst__adam_sse2,
   dst__sgd_avx2, dst__adam_avx2, dst__sgd_neon, dst__adam_neon.
   Multiplications and additions stay apart (no fused rounding), so every
   expansion gives the scalar loop's bits. SGD (d = g + wd p) has one loop
   per momentum case: no branch in them. */
#define DST__OPT_KERNELS(isa, vs, ATTR)                                                                                 \
static ATTR void dst__sgd_##isa(const dst__opt_consts *k, float *DST__RESTRICT p, const float *DST__RESTRICT g,         \
                                float *DST__RESTRICT buf, size_t n)                                                     \
{                                                                                                                       \
    size_t i = 0;                                                                                                       \
    DST__VEC(vs) wd = DST__VSET1(vs, k->wd), lr = DST__VSET1(vs, k->lr);                                                \
    DST__VEC(vs) mom = DST__VSET1(vs, k->mom), damp = DST__VSET1(vs, k->damp);                                          \
    if (!buf) {                                                                                                         \
        for (; i + DST__VW(vs) <= n; i += DST__VW(vs)) {                                                                \
            DST__VEC(vs) d = DST__VADD(vs, DST__VLOAD(vs, g + i), DST__VMUL(vs, wd, DST__VLOAD(vs, p + i)));            \
            DST__VSTORE(vs, p + i, DST__VSUB(vs, DST__VLOAD(vs, p + i), DST__VMUL(vs, lr, d)));                         \
        }                                                                                                               \
    } else if (k->first) {                                                                                              \
        for (; i + DST__VW(vs) <= n; i += DST__VW(vs)) {                                                                \
            DST__VEC(vs) d = DST__VADD(vs, DST__VLOAD(vs, g + i), DST__VMUL(vs, wd, DST__VLOAD(vs, p + i)));            \
            DST__VSTORE(vs, buf + i, d);                                                                                \
            if (k->nesterov) d = DST__VADD(vs, d, DST__VMUL(vs, mom, d));                                               \
            DST__VSTORE(vs, p + i, DST__VSUB(vs, DST__VLOAD(vs, p + i), DST__VMUL(vs, lr, d)));                         \
        }                                                                                                               \
    } else if (k->nesterov) {                                                                                           \
        for (; i + DST__VW(vs) <= n; i += DST__VW(vs)) {                                                                \
            DST__VEC(vs) d = DST__VADD(vs, DST__VLOAD(vs, g + i), DST__VMUL(vs, wd, DST__VLOAD(vs, p + i)));            \
            DST__VEC(vs) b = DST__VADD(vs, DST__VMUL(vs, mom, DST__VLOAD(vs, buf + i)), DST__VMUL(vs, damp, d));        \
            DST__VSTORE(vs, buf + i, b);                                                                                \
            DST__VEC(vs) e = DST__VADD(vs, d, DST__VMUL(vs, mom, b));                                                   \
            DST__VSTORE(vs, p + i, DST__VSUB(vs, DST__VLOAD(vs, p + i), DST__VMUL(vs, lr, e)));                         \
        }                                                                                                               \
    } else {                                                                                                            \
        for (; i + DST__VW(vs) <= n; i += DST__VW(vs)) {                                                                \
            DST__VEC(vs) d = DST__VADD(vs, DST__VLOAD(vs, g + i), DST__VMUL(vs, wd, DST__VLOAD(vs, p + i)));            \
            DST__VEC(vs) b = DST__VADD(vs, DST__VMUL(vs, mom, DST__VLOAD(vs, buf + i)), DST__VMUL(vs, damp, d));        \
            DST__VSTORE(vs, buf + i, b);                                                                                \
            DST__VSTORE(vs, p + i, DST__VSUB(vs, DST__VLOAD(vs, p + i), DST__VMUL(vs, lr, b)));                         \
        }                                                                                                               \
    }                                                                                                                   \
    DST__VLEAVE(vs);                                                                                                    \
    dst__sgd_scalar(k, p + i, g + i, buf ? buf + i : NULL, n - i);                                                      \
}                                                                                                                       \
static ATTR void dst__adam_##isa(const dst__opt_consts *k, float *DST__RESTRICT p, const float *DST__RESTRICT g,        \
                                 float *DST__RESTRICT m, float *DST__RESTRICT v, size_t n)                              \
{                                                                                                                       \
    size_t i = 0;                                                                                                       \
    DST__VEC(vs) wd = DST__VSET1(vs, k->wd), decay = DST__VSET1(vs, k->decay);                                          \
    DST__VEC(vs) b1 = DST__VSET1(vs, k->b1), b2 = DST__VSET1(vs, k->b2);                                                \
    DST__VEC(vs) one_b1 = DST__VSET1(vs, k->one_b1), one_b2 = DST__VSET1(vs, k->one_b2);                                \
    DST__VEC(vs) step_size = DST__VSET1(vs, k->step_size);                                                              \
    DST__VEC(vs) bc2 = DST__VSET1(vs, k->bc2_sqrt), eps = DST__VSET1(vs, k->eps);                                       \
    for (; i + DST__VW(vs) <= n; i += DST__VW(vs)) {                                                                    \
        DST__VEC(vs) pv = DST__VLOAD(vs, p + i), d = DST__VLOAD(vs, g + i), mv, vv, den;                                \
        if (k->decoupled) pv = DST__VMUL(vs, pv, decay);                                                                \
        else d = DST__VADD(vs, d, DST__VMUL(vs, wd, pv));                                                               \
        mv = DST__VADD(vs, DST__VMUL(vs, b1, DST__VLOAD(vs, m + i)), DST__VMUL(vs, one_b1, d));                         \
        vv = DST__VADD(vs, DST__VMUL(vs, b2, DST__VLOAD(vs, v + i)), DST__VMUL(vs, DST__VMUL(vs, one_b2, d), d));       \
        den = DST__VADD(vs, DST__VDIV(vs, DST__VSQRT(vs, vv), bc2), eps);                                               \
        DST__VSTORE(vs, m + i, mv);                                                                                     \
        DST__VSTORE(vs, v + i, vv);                                                                                     \
        DST__VSTORE(vs, p + i, DST__VSUB(vs, pv, DST__VDIV(vs, DST__VMUL(vs, step_size, mv), den)));                    \
    }                                                                                                                   \
    DST__VLEAVE(vs);                                                                                                    \
    dst__adam_scalar(k, p + i, g + i, m + i, v + i, n - i);                                                             \
}

#if defined(DST__SIMD_X86)
DST__OPT_KERNELS(sse2, sse2, DST__VATTR(sse2))
/* Adam is bound by its square root and two divisions, which AVX does 8 at a
   time (SGD is bound by memory; it comes along). The AVX2 and AVX-512
   levels use these; the attribute asks for AVX, not FMA, so that in a
   plain build no multiply-add can be fused. */
DST__OPT_KERNELS(avx2, avx2, DST__TARGET("avx"))
#endif
#if defined(DST__SIMD_NEON)
DST__OPT_KERNELS(neon, neon, DST__VATTR(neon))
#endif
#undef DST__OPT_KERNELS

DSTDEF void dst_optimizer_update(const dst_optimizer_config *c, float lr, long step,
                                 float *param, const float *grad, float *state0, float *state1, size_t n)
{
    dst__opt_consts k;
    /* bad arguments: nothing done; the arrays the optimizer uses must be there */
    if (!c || (unsigned)c->kind > (unsigned)DST_ADAMW || !n) return;
    if (!param || !grad || (c->kind == DST_SGD ? c->momentum != 0 && !state0 : !state0 || !state1)) return;
    if (step < 1) step = 1;
    k = dst__opt_consts_of(c, lr, step);
    if (c->kind == DST_SGD && c->momentum == 0) state0 = NULL; /* no momentum buffer */
    if (c->kind == DST_SGD) dst__kern()->sgd(&k, param, grad, state0, n);
    else dst__kern()->adam(&k, param, grad, state0, state1, n);
}

DSTDEF float dst_clip_grad_norm(float *grad, size_t n, float max_norm)
{
    size_t i;
    double sum = 0;
    float norm, coef;
    if ((n && !grad) || !(max_norm >= 0)) return (float)NAN; /* bad arguments: nothing done */
    for (i = 0; i < n; ++i) sum += (double)grad[i] * (double)grad[i];
    norm = (float)sqrt(sum);
    coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f)
        for (i = 0; i < n; ++i) grad[i] *= coef;
    return norm;
}

DSTDEF float dst_lr_at(const dst_lr_schedule *s, float base_lr, long t)
{
    if (!s || t < 0) return base_lr;
    if (s->warmup > 0) {
        if (t < s->warmup) return base_lr * (float)((double)(t + 1) / (double)(s->warmup + 1));
        t -= s->warmup;
    }
    switch (s->kind) {
    case DST_LR_CONSTANT: return base_lr;
    case DST_LR_STEP:
        return s->step_size > 0 ? base_lr * (float)pow((double)s->gamma, (double)(t / s->step_size)) : base_lr;
    case DST_LR_COSINE:
        if (s->total <= 0) return base_lr;
        if (t >= s->total) return s->min_lr;
        return s->min_lr + (base_lr - s->min_lr) *
               (float)(0.5 * (1.0 + cos(3.14159265358979323846 * (double)t / (double)s->total)));
    }
    return base_lr;
}

#endif /* DST_INFERENCE_ONLY */

/* ==== the kernel tables ======================================= >>kernels
   One table per level (see dst__kernels at the top): which kernel each
   family runs, chosen here and nowhere else. A level that has no vector
   version of a family takes the one of the level below it (the AVX2 and
   AVX-512 tables use the 4-lane SSE2 element-wise loops and depthwise
   planes), so a forced level gives today's bits of that level. */

/* kernels defined with their families further down */
static void dst__bias_relu_scalar(float *y, const float *b, size_t rows, size_t cols, int relu);
static void dst__column_sums_scalar(const float *DST__RESTRICT dy, size_t ld, float *DST__RESTRICT db,
                                    size_t rows, size_t cols);
#ifndef DST_INFERENCE_ONLY
static int dst__all_finite_scalar(const float *v, size_t n);
#endif
#if defined(DST__V4ISA)
static void DST__V4NAME(dst__bias_relu)(float *y, const float *b, size_t rows, size_t cols, int relu);
static void DST__V4NAME(dst__column_sums)(const float *DST__RESTRICT dy, size_t ld, float *DST__RESTRICT db,
                                          size_t rows, size_t cols);
#ifndef DST_INFERENCE_ONLY
static int DST__V4NAME(dst__all_finite)(const float *v, size_t n);
#endif
#endif

static const dst__kernels dst__kernels_scalar = {
    DST_SIMD_SCALAR, NULL,
    dst__relu_scalar, dst__relu_grad_scalar, dst__bias_relu_scalar, dst__column_sums_scalar, DST__TRAIN(dst__all_finite_scalar),
    DST__TRAIN(dst__sgd_scalar), DST__TRAIN(dst__adam_scalar),
    0, NULL, NULL,
    0, NULL, NULL, NULL,
    NULL,
    dst__q8_dot_scalar, dst__q8_conv_scalar, dst__q8_rows4_scalar, dst__q8_max2x2_scalar, dst__q8_requant_scalar, dst__q8_quantize_scalar,
    DST__TRAIN(dst__qat_range_scalar), DST__TRAIN(dst__qat_round_scalar)
};

#if defined(DST__SIMD_X86)
static const dst__kernels dst__kernels_sse2 = {
    DST_SIMD_SSE2, &dst__gemm_sse2,
    dst__relu_sse2, dst__relu_grad_sse2, dst__bias_relu_sse2, dst__column_sums_sse2, DST__TRAIN(dst__all_finite_sse2),
    DST__TRAIN(dst__sgd_sse2), DST__TRAIN(dst__adam_sse2),
    1, dst__plane_forward_sse2, dst__plane_weight_grad_sse2,
    0, NULL, NULL, NULL,
    dst__maxpool2x2_forward_sse2,
    dst__q8_dot_sse2, dst__q8_conv_sse2, dst__q8_rows4_sse2, dst__q8_max2x2_sse2, dst__q8_requant_sse2, dst__q8_quantize_sse2,
    DST__TRAIN(dst__qat_range_sse2), DST__TRAIN(dst__qat_round_sse2)
};

static const dst__kernels dst__kernels_avx2 = {
    DST_SIMD_AVX2, &dst__gemm_avx2,
    dst__relu_sse2, dst__relu_grad_sse2, dst__bias_relu_sse2, dst__column_sums_sse2, DST__TRAIN(dst__all_finite_sse2),
    DST__TRAIN(dst__sgd_avx2), DST__TRAIN(dst__adam_avx2),
    1, dst__plane_forward_sse2, dst__plane_weight_grad_sse2,
    DST__CONV_WINOGRAD_CHANNELS_AVX2, dst__wino_input_avx2, dst__wino_output_avx2, dst__wino_grad_avx2,
    dst__maxpool2x2_forward_sse2,
    dst__q8_dot_avx2, dst__q8_conv_avx2, dst__q8_rows4_sse2, dst__q8_max2x2_sse2, dst__q8_requant_avx2, dst__q8_quantize_sse2,
    DST__TRAIN(dst__qat_range_sse2), DST__TRAIN(dst__qat_round_sse2)
};

/* AVX-512: one table per int8 extension set the CPU has (dst__cpu_avx512_int8):
   F only (the AVX2 int8 kernel), BW and VL, and VNNI as well */
#define DST__KERNELS_AVX512(q8_dot, q8_conv) {                                                                  \
    DST_SIMD_AVX512, &dst__gemm_avx512,                                                                \
    dst__relu_sse2, dst__relu_grad_sse2, dst__bias_relu_sse2, dst__column_sums_sse2, DST__TRAIN(dst__all_finite_sse2), \
    DST__TRAIN(dst__sgd_avx2), DST__TRAIN(dst__adam_avx2),                                                                     \
    1, dst__plane_forward_sse2, dst__plane_weight_grad_sse2,                                           \
    DST__CONV_WINOGRAD_CHANNELS, dst__wino_input_avx512, dst__wino_output_avx512, dst__wino_grad_avx512, \
    dst__maxpool2x2_forward_avx512,                                                                    \
    q8_dot, q8_conv, dst__q8_rows4_sse2, dst__q8_max2x2_sse2, dst__q8_requant_avx2, dst__q8_quantize_sse2,           \
    DST__TRAIN(dst__qat_range_sse2), DST__TRAIN(dst__qat_round_sse2)                                   \
}
static const dst__kernels dst__kernels_avx512 = DST__KERNELS_AVX512(dst__q8_dot_avx2, dst__q8_conv_avx2);
static const dst__kernels dst__kernels_avx512bw = DST__KERNELS_AVX512(dst__q8_dot_avx512, dst__q8_conv_avx2);
static const dst__kernels dst__kernels_avx512vnni = DST__KERNELS_AVX512(dst__q8_dot_avx512vnni, dst__q8_conv_avx512vnni);
#undef DST__KERNELS_AVX512
#endif

#if defined(DST__SIMD_NEON)
/* Winograd is not chosen by AUTO here: its transforms are plain C (a
   forced Winograd path runs them with the NEON micro-kernels). */
/* one table per int8 kernel set: the widening one, and the dot-product
   instructions' where the build can have them (dst__cpu_neon_dot) */
#define DST__KERNELS_NEON(q8_dot, q8_conv) {                                                                   \
    DST_SIMD_NEON, &dst__gemm_neon,                                                                       \
    dst__relu_neon, dst__relu_grad_neon, dst__bias_relu_neon, dst__column_sums_neon, DST__TRAIN(dst__all_finite_neon), \
    DST__TRAIN(dst__sgd_neon), DST__TRAIN(dst__adam_neon),                                                \
    1, dst__plane_forward_neon, dst__plane_weight_grad_neon,                                              \
    0, NULL, NULL, NULL,                                                                                  \
    NULL,                                                                                                 \
    q8_dot, q8_conv, dst__q8_rows4_neon, dst__q8_max2x2_neon, dst__q8_requant_scalar, dst__q8_quantize_scalar, \
    DST__TRAIN(dst__qat_range_scalar), DST__TRAIN(dst__qat_round_scalar)                                   \
}
static const dst__kernels dst__kernels_neon = DST__KERNELS_NEON(dst__q8_dot_neon, dst__q8_conv_neon);
#if defined(DST__NEON_DOT)
static const dst__kernels dst__kernels_neondot = DST__KERNELS_NEON(dst__q8_dot_neondot, dst__q8_conv_neondot);
#endif
#undef DST__KERNELS_NEON
#endif

/* The table of a level; a level this build lacks gets the scalar one
   (dst_simd_force never sets such a level). */
static const dst__kernels *dst__kernels_for(dst_simd level)
{
    switch (level) {
#if defined(DST__SIMD_X86)
    case DST_SIMD_SSE2: return &dst__kernels_sse2;
    case DST_SIMD_AVX2: return &dst__kernels_avx2;
    case DST_SIMD_AVX512:
        switch (dst__cpu_avx512_int8()) {
        case 2: return &dst__kernels_avx512vnni;
        case 1: return &dst__kernels_avx512bw;
        default: return &dst__kernels_avx512;
        }
#endif
#if defined(DST__NEON_DOT)
    case DST_SIMD_NEON: return dst__cpu_neon_dot() ? &dst__kernels_neondot : &dst__kernels_neon;
#elif defined(DST__SIMD_NEON)
    case DST_SIMD_NEON: return &dst__kernels_neon;
#endif
    default: return &dst__kernels_scalar;
    }
}

/* ==== models: the structures ==================================== >>model */

/* A layer inside a model: its description, shapes, where its parameters sit,
   and its slices of the workspace. */
typedef struct dst__layer {
    dst_layer_desc desc;
    int    in_c, in_h, in_w, out_c, out_h, out_w;
    size_t in_size, out_size;              /* floats per sample */
    size_t param_offset, weight_count, bias_count;
    size_t fan_in, fan_out;                /* for initialisation */
    size_t buffer_offset, buffer_count;    /* BATCHNORM: running mean, running variance */
    size_t col_floats;                     /* CONV2D: im2col scratch (one sample, one group) */
    int    relu_fused;                     /* a kind that fuses a ReLU (DENSE, CONV2D) followed by
                                              RELU: its forward applies the ReLU, and both layers
                                              share one output buffer, which holds the ReLU's output */
    float *out;                            /* batch x out_size */
    float *aux;                            /* DROPOUT, DROPOUT2D: the mask; MAXPOOL2D: argmax
                                              (int32); BATCHNORM: saved mean, invstd */
    /* int8 models (>>quantize): the output's quantization, real = q_scale (q - q_zero), and for
       a layer with integer weights (q_w set: DENSE, CONV2D) per output channel its int8 weights
       [units][k], their scales, the int32 bias (in_scale w_scale units, minus the input's zero
       point times the row's weight sum) and the requantization multiplier
       in_scale w_scale / q_scale. out holds uint8 values then. */
    float   q_scale;
    int32_t q_zero;
    int32_t q_in_zero;                     /* the input's zero point (CONV2D's padding) */
    int8_t  *q_w;
    float   *q_w_scale, *q_mult;
    int32_t *q_b;                          /* the bias in in_scale w_scale units, as the file holds it */
    int32_t *q_bias;
} dst__layer;

/* A metadata entry (the weight file section): key and string value share one block. */
typedef struct dst__meta {
    char  *key;
    char  *str;    /* NULL for a number */
    double num;
} dst__meta;

/* Where dst_model_fit stands, kept after it returns so that a checkpoint can
   save it and cfg.resume continue from it. */
typedef struct dst__fit_pos {
    long     epoch;              /* epochs completed */
    size_t   batch;              /* batches completed in the current epoch */
    size_t   count;              /* what the fit was called with */
    int      batch_size, no_shuffle;
    uint64_t seed;
    double   loss_sum;           /* the epoch so far, for its progress report */
    size_t   correct, seen;
} dst__fit_pos;

struct dst_model {
    dst__layer *layers;
    int    layer_count;
    int    in_c, in_h, in_w;
    size_t in_size, out_size, max_size;    /* max_size: largest activation per sample */
    size_t param_count;
    float *params, *grads, *state0, *state1; /* all the same layout */
    float *buffers;                        /* not trained: batch norm's running statistics */
    float *buffers_saved;                  /* their copy from before the step in progress */
    size_t buffer_count;
    size_t col_floats;                     /* the largest conv layer's im2col scratch */
    float *col;                            /* in the workspace */
    float *scratch_layer;                  /* the largest scratch_floats of a layer, in the workspace */
    /* workspace, sized for ws_batch samples */
    int    ws_batch;
    float *ws;                             /* layer outputs and masks */
    float *dbuf[2];                        /* gradient ping-pong, ws_batch x max_size */
    float *tlogits;                        /* teacher logits for a batch */
    float *dlogits;                        /* d loss / d output for a batch */
    float *scratch;                        /* 2 x out_size, loss rows */
    float *pack;                           /* GEMM packing (the calling thread's) */
    float **packs;                         /* one per worker: packs[0] is pack */
    float **cols;                          /* im2col scratch of workers 1 .. npacks - 1 (worker 0: col) */
    int    npacks;
    dst_threads threads;                   /* dst_model_set_threads; width 1: none */
    /* the last forward */
    const float *input;
    int    batch, trained_forward;
    /* training */
    dst_optimizer_config opt;
    int    has_opt;
    float  lr;
    long   step;
    dst_rng rng;                           /* dropout */
    void  *alloc_user;
    char   error[256];
    /* the weight file */
    float *own_params, *own_buffers;       /* the blocks this model frees; NULL while params and
                                              buffers point into a caller's buffer (loaded in place) */
    dst__meta *meta;
    int    meta_count, meta_cap;
    dst__fit_pos fit;
    uint64_t seed;                         /* the description's, saved in the file */
    /* int8 models (>>quantize): the input's quantization, and the block that holds every
       layer's q_w, q_w_scale, q_mult, q_bias and the int32 sums of one output position */
    int     q8;
    float   q_in_scale;
    int32_t q_in_zero;
    void   *q_block;
    int32_t *q_acc;
    struct dst__qat *qat;                  /* quantization-aware training (>>quantize); NULL: off */
};

static dst_result dst__model_own(dst_model *m); /* copies in-place parameters into owned memory */

/* quantization-aware training's hooks (>>quantize); none in an inference-only build */
#ifndef DST_INFERENCE_ONLY
#define DST__QAT(m) ((m)->qat != NULL)
static dst_result dst__qat_begin(dst_model *m, const float **x, int batch, int training);
static void dst__qat_tensor(dst_model *m, int t, const float *values, int batch, int training);
static void dst__qat_mask(const dst_model *m, int t, float *dy);
static void dst__qat_restore(dst_model *m);
static void dst__qat_hold(dst_model *m, int on);
static void dst__qat_free(dst_model *m);
#else
#define DST__QAT(m) 0
#define dst__qat_begin(m, x, batch, training) DST_OK
#define dst__qat_tensor(m, t, values, batch, training) ((void)0)
#define dst__qat_restore(m) ((void)0)
#define dst__qat_hold(m, on) ((void)0)
#define dst__qat_free(m) ((void)0)
#endif

static dst_result dst__fail(dst_model *m, dst_result code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    code = dst__vfail(m->error, code, fmt, ap);
    va_end(ap);
    return code;
}

DSTDEF const char *dst_model_error(const dst_model *m) { return m ? m->error : "model is NULL"; }

DSTDEF dst_model_desc dst_model_desc_default(void)
{
    dst_model_desc d;
    memset(&d, 0, sizeof d);
    d.seed = 1;
    return d;
}

/* ==== layers: one row of operations per kind =================== >>layers
   Every kind is one line of DST_LAYER_KIND_LIST and one row, dst__kind_<name>,
   which the model reaches through dst__layer_kinds[kind] (the table after the
   kinds' sections). A kind's section below holds its constructors, its shape,
   forward and backward, and its row; nothing else in the library names a
   kind, except where one kind's behaviour is about another (a ReLU fused into
   the layer before it, a batch norm folded into it).
   A new kind: its line at the end of DST_LAYER_KIND_LIST, its constructor's
   declaration in the API, its section here (ending in its row), and its
   lines in docs/API.md, docs/FORMAT.md and tests/test_layers.c. The weight
   file needs nothing: the layer record holds every dst_layer_desc field,
   the kind's shape function checks them, and the weight's tensor takes the
   row's weight_dims. Two things would reach beyond the kind: a field that
   dst_layer_desc lacks (a new field at the end of every layer record: a
   format change, docs/FORMAT.md), and buffers other than a running mean
   and variance (the file names buffer tensors running_mean, running_var). */

typedef struct dst__layer_ops {
    /* Checks the description against the input shape and sets the output
       shape, the parameter and buffer counts, the fans and col_floats.
       dst__layer_shape has set in_c, in_h, in_w and in_size, and defaults:
       output shape = input shape, no parameters or buffers, fan_in = in_size,
       fan_out = units (or 1); out_size follows from the output shape. index
       is for messages. */
    dst_result (*shape)(dst__layer *ly, int index, dst_error *err);
    /* Floats of workspace beside the output for batch samples (masks,
       argmax, saved statistics). NULL: none. */
    size_t (*aux_floats)(const dst__layer *ly, int batch);
    /* Fills a new model's parameters and buffers (the model's whole arrays;
       this layer's slices start at param_offset, buffer_offset). NULL: none. */
    void (*init)(const dst__layer *ly, float *params, float *buffers, dst_rng *rng);
    /* A training forward's check of the batch size. NULL: any batch. */
    dst_result (*check_batch)(dst_model *m, const dst__layer *ly, int index, int batch);
    /* Writes the output of batch samples of x to ly->out (and what backward
       needs to ly->aux) and returns where the output is: ly->out, or x itself
       for a layer that passes its input on. */
    const float *(*forward)(dst_model *m, dst__layer *ly, const float *x, int batch, int training);
    /* From dy (d loss / d output) writes the parameter gradients and, unless
       dx is NULL (the first layer), d loss / d input to dx; returns where the
       input's gradient is: dx, or dy when it passes through unchanged. x is
       the forward's input; ly->out and ly->aux hold what the forward left. */
    const float *(*backward)(dst_model *m, dst__layer *ly, const float *x, const float *dy, float *dx, int batch);
    /* The weight tensor's dimensions (PyTorch's), returns how many. NULL:
       one dimension, weight_count. */
    int (*weight_dims)(const dst__layer *ly, uint64_t *dims);
    unsigned flags;            /* DST__KIND_* */
    dst_activation activation; /* the activation kinds: which one (dst_activation_forward) */
    /* Floats of scratch for batch samples that the layer needs only while
       its forward or backward runs (layers run one at a time, so the
       workspace holds the largest of them, at m->scratch_layer). NULL: none. */
    size_t (*scratch_floats)(const dst__layer *ly, int batch);
    /* An int8 model's forward (>>quantize): reads the uint8 x (the previous
       layer's q_scale, q_zero), writes the layer's uint8 output to ly->out
       and returns where it is (ly->out, or x for a layer that passes it
       on). yf non-NULL (the last layer): a kind that can writes its output
       there in float instead and returns NULL. NULL: the kind runs in
       float between a dequantize and a quantize. */
    const uint8_t *(*forward_q8)(dst_model *m, dst__layer *ly, const uint8_t *x, int batch, float *yf);
} dst__layer_ops;

enum {
    DST__KIND_FUSES_RELU = 1,      /* a RELU layer right after it is done by its forward (relu_fused) */
    DST__KIND_FOLDS_BATCHNORM = 2, /* weight [units][...] and bias [units]: a BATCHNORM right after it
                                      folds into them (dst_model_fold_batchnorm) */
    DST__KIND_IN_PLACE = 4,        /* its output is its input's buffer, except as the first layer */
    DST__KIND_Q8_SAME_SCALE = 8    /* int8 models: its output keeps its input's scale and zero point
                                      (RELU, the pools, FLATTEN, the dropouts) */
};

/* The row of a layer of a model (its kind has passed dst__layer_shape). */
static const dst__layer_ops *dst__ops(const dst__layer *ly);

/* ---- layer kinds: pieces several kinds share ---- */

static dst_layer_desc dst__layer_of(dst_layer_kind kind, float param)
{
    dst_layer_desc d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    d.param = param;
    return d;
}

/* The shape of a layer that keeps its input's shape and has no parameters. */
static dst_result dst__shape_same(dst__layer *ly, int index, dst_error *err)
{
    (void)ly; (void)index; (void)err;
    return DST_OK;
}

static dst_result dst__check_init(const dst__layer *ly, int index, dst_error *err)
{
    if ((unsigned)ly->desc.init > (unsigned)DST_INIT_XAVIER_NORMAL)
        return dst__err(err, DST_ERR_ARG, "layer %d (%s): unknown init %d", index, dst_layer_name(ly->desc.kind),
                        (int)ly->desc.init);
    return DST_OK;
}

static dst_result dst__check_rate(dst__layer *ly, int index, dst_error *err)
{
    float rate = ly->desc.param;
    if (!(rate >= 0 && rate < 1))
        return dst__err(err, DST_ERR_ARG, "layer %d (%s): rate %g, must be in [0, 1)", index,
                        dst_layer_name(ly->desc.kind), (double)rate);
    return DST_OK;
}

static void dst__fill_uniform(dst_rng *rng, float *p, size_t n, float bound)
{
    size_t i;
    for (i = 0; i < n; ++i) p[i] = (2.0f * dst_rng_uniform(rng) - 1.0f) * bound;
}

static void dst__fill_normal(dst_rng *rng, float *p, size_t n, float std)
{
    size_t i;
    for (i = 0; i < n; ++i) p[i] = dst_rng_normal(rng) * std;
}

/* A weight and a bias by desc.init (dense, conv2d): PyTorch's schemes. */
static void dst__init_weights(const dst__layer *ly, float *params, float *buffers, dst_rng *rng)
{
    float *w = params + ly->param_offset, *b = w + ly->weight_count;
    float fan_in = (float)ly->fan_in, fan_out = (float)ly->fan_out;
    (void)buffers;
    memset(b, 0, ly->bias_count * sizeof(float));
    switch (ly->desc.init) {
    case DST_INIT_DEFAULT:
        dst__fill_uniform(rng, w, ly->weight_count, 1.0f / sqrtf(fan_in));
        dst__fill_uniform(rng, b, ly->bias_count, 1.0f / sqrtf(fan_in));
        break;
    case DST_INIT_HE_UNIFORM: dst__fill_uniform(rng, w, ly->weight_count, sqrtf(6.0f / fan_in)); break;
    case DST_INIT_HE_NORMAL: dst__fill_normal(rng, w, ly->weight_count, sqrtf(2.0f / fan_in)); break;
    case DST_INIT_XAVIER_UNIFORM: dst__fill_uniform(rng, w, ly->weight_count, sqrtf(6.0f / (fan_in + fan_out))); break;
    case DST_INIT_XAVIER_NORMAL: dst__fill_normal(rng, w, ly->weight_count, sqrtf(2.0f / (fan_in + fan_out))); break;
    }
}

/* Works out a layer's output shape and parameter counts from its input
   shape (in_c, in_h, in_w); rejects what cannot be built. */
static dst_result dst__layer_shape(dst__layer *ly, int index, dst_error *err)
{
    const dst_layer_desc *d = &ly->desc;
    size_t in = (size_t)ly->in_c * ly->in_h * ly->in_w;
    dst_result r;
    if ((unsigned)d->kind >= (unsigned)DST_LAYER_KIND_COUNT)
        return dst__err(err, DST_ERR_ARG, "layer %d: unknown kind %d", index, (int)d->kind);
    ly->in_size = in;
    ly->out_c = ly->in_c; ly->out_h = ly->in_h; ly->out_w = ly->in_w;
    ly->weight_count = ly->bias_count = 0;
    ly->buffer_count = ly->col_floats = 0;
    ly->fan_in = in;
    ly->fan_out = d->units > 0 ? (size_t)d->units : 1;
    if ((r = dst__ops(ly)->shape(ly, index, err)) != DST_OK) return r;
    ly->out_size = (size_t)ly->out_c * ly->out_h * ly->out_w;
    return DST_OK;
}

/* Workspace beside the output a layer needs for batch samples (floats). */
static size_t dst__layer_aux_floats(const dst__layer *ly, int batch)
{
    const dst__layer_ops *ops = dst__ops(ly);
    return ops->aux_floats ? ops->aux_floats(ly, batch) : 0;
}

static void dst__model_release_workspace(dst_model *m)
{
    dst__free_aligned(m->ws, m->alloc_user);
    m->ws = NULL;
    m->ws_batch = 0;
}

/* the packing buffers and im2col scratch of workers 1 .. npacks - 1 (one
   allocation each: cols[i] lies behind packs[i]) */
static void dst__model_free_packs(dst_model *m)
{
    int i;
    if (m->packs == &m->pack) return;
    for (i = 1; i < m->npacks; ++i) dst__free_aligned(m->packs[i], m->alloc_user);
    DST_FREE(m->packs, m->alloc_user);
    m->packs = &m->pack;
    m->cols = NULL;
    m->npacks = 1;
}

DSTDEF dst_result dst_model_set_threads(dst_model *m, const dst_threads *threads)
{
    float **packs;
    size_t each;
    int i, width;
    if (!m) return DST_ERR_ARG;
    if (threads && (!threads->parallel_for || threads->width < 1))
        return dst__fail(m, DST_ERR_ARG, "threads: parallel_for is NULL or width < 1");
    width = threads ? threads->width : 1;
    if (width > DST__MAX_WORKERS) width = DST__MAX_WORKERS;
    if (width != m->npacks) {
        dst__model_free_packs(m);
        each = DST__GEMM_PACK_FLOATS + ((m->col_floats + 15) & ~(size_t)15);
        if (width > 1) {
            packs = (float **)DST_MALLOC(2 * sizeof(float *) * (size_t)width, m->alloc_user);
            if (!packs || m->col_floats > ((size_t)-1 >> 3) - DST__GEMM_PACK_FLOATS) {
                if (packs) DST_FREE(packs, m->alloc_user);
                return dst__fail(m, DST_ERR_NOMEM, "scratch for %d threads", width);
            }
            packs[0] = m->pack;
            packs[width] = NULL;
            for (i = 1; i < width; ++i) {
                packs[i] = (float *)dst__alloc_aligned(each * sizeof(float), m->alloc_user);
                if (!packs[i]) {
                    while (--i > 0) dst__free_aligned(packs[i], m->alloc_user);
                    DST_FREE(packs, m->alloc_user);
                    return dst__fail(m, DST_ERR_NOMEM, "scratch for %d threads", width);
                }
                packs[width + i] = packs[i] + DST__GEMM_PACK_FLOATS;
            }
            m->packs = packs;
            m->cols = packs + width;
            m->npacks = width;
        }
    }
    if (threads && width > 1) {
        m->threads = *threads;
        m->threads.width = width;
    } else {
        m->threads = dst_pool_threads(NULL);
    }
    return DST_OK;
}

DSTDEF void dst_model_free(dst_model *m)
{
    void *ctx;
    if (!m) return;
    ctx = m->alloc_user;
    dst__qat_free(m);
    dst__model_release_workspace(m);
    dst__model_free_packs(m);
    dst__free_aligned(m->pack, ctx);
    dst__free_aligned(m->own_params, ctx);
    dst__free_aligned(m->own_buffers, ctx);
    DST_FREE(m->q_block, ctx);
    while (m->meta_count > 0) DST_FREE(m->meta[--m->meta_count].key, ctx);
    DST_FREE(m->meta, ctx);
    DST_FREE(m->layers, ctx);
    DST_FREE(m, ctx);
}

/* for_load (the weight file's loader): no parameter or statistics blocks and
   no initialisation; the loader points them into its buffer or fills them. */
static dst_result dst__model_create(dst_model **out, const dst_model_desc *desc, int for_load, dst_error *err)
{
    dst_model *m;
    int i, c, h, w;
    size_t total = 0, bytes;
    dst_result r;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    *out = NULL;
    if (!desc) return dst__err(err, DST_ERR_ARG, "desc is NULL");
    if (!desc->layers || desc->layer_count < 1)
        return dst__err(err, DST_ERR_ARG, "a model needs at least one layer (layers %s, layer_count %d)",
                        desc->layers ? "set" : "NULL", desc->layer_count);
    c = desc->input_c; h = desc->input_h ? desc->input_h : 1; w = desc->input_w ? desc->input_w : 1;
    if (c < 1 || h < 1 || w < 1)
        return dst__err(err, DST_ERR_ARG, "input shape %d x %d x %d: every dimension must be >= 1",
                        desc->input_c, desc->input_h, desc->input_w);
    /* every layer indexes a sample's values with int: the input's too */
    if (!dst__product_le(c, h, w, INT_MAX))
        return dst__err(err, DST_ERR_ARG, "input shape %d x %d x %d: more than %d values per sample", c, h, w, INT_MAX);
    m = (dst_model *)DST_MALLOC(sizeof *m, desc->alloc_user);
    if (!m) return dst__err(err, DST_ERR_NOMEM, "model struct");
    memset(m, 0, sizeof *m);
    m->alloc_user = desc->alloc_user;
    m->layer_count = desc->layer_count;
    m->in_c = c; m->in_h = h; m->in_w = w;
    m->in_size = (size_t)c * h * w;
    m->max_size = m->in_size;
    m->layers = (dst__layer *)DST_MALLOC(sizeof(dst__layer) * (size_t)desc->layer_count, m->alloc_user);
    if (!m->layers) { dst_model_free(m); return dst__err(err, DST_ERR_NOMEM, "layer table"); }
    memset(m->layers, 0, sizeof(dst__layer) * (size_t)desc->layer_count);
    for (i = 0; i < m->layer_count; ++i) {
        dst__layer *ly = &m->layers[i];
        ly->desc = desc->layers[i];
        ly->in_c = c; ly->in_h = h; ly->in_w = w;
        if ((r = dst__layer_shape(ly, i, err)) != DST_OK) { dst_model_free(m); return r; }
        c = ly->out_c; h = ly->out_h; w = ly->out_w;
        ly->param_offset = total;
        /* each layer's parameters start 64-byte aligned */
        total += (ly->weight_count + ly->bias_count + 15) & ~(size_t)15;
        if (ly->out_size > m->max_size) m->max_size = ly->out_size;
        ly->buffer_offset = m->buffer_count;
        m->buffer_count += ly->buffer_count;
        if (ly->col_floats > m->col_floats) m->col_floats = ly->col_floats;
    }
    m->out_size = m->layers[m->layer_count - 1].out_size;
    m->param_count = total;
    for (i = 0; i + 1 < m->layer_count; ++i)
        m->layers[i].relu_fused = (dst__ops(&m->layers[i])->flags & DST__KIND_FUSES_RELU) &&
                                  m->layers[i + 1].desc.kind == DST_LAYER_RELU;
    m->pack = (float *)dst__alloc_aligned(DST__GEMM_PACK_FLOATS * sizeof(float), m->alloc_user);
    if (!m->pack) { dst_model_free(m); return dst__err(err, DST_ERR_NOMEM, "GEMM packing buffer"); }
    m->packs = &m->pack;
    m->npacks = 1;
    m->threads = dst_pool_threads(NULL);
    dst_rng_seed(&m->rng, desc->seed);
    m->seed = desc->seed;
    m->opt = dst_optimizer_default(DST_SGD);
    m->lr = m->opt.lr;
    if (for_load) { *out = m; return DST_OK; }
    /* params, grads and two optimizer states in one block */
    if (!dst__mul_ok(total, 4 * sizeof(float), &bytes) ||
        !(m->params = (float *)dst__alloc_aligned(bytes ? bytes : 64, m->alloc_user))) {
        dst_model_free(m);
        return dst__err(err, DST_ERR_NOMEM, "%lu parameters", (unsigned long)total);
    }
    memset(m->params, 0, bytes);
    m->own_params = m->params;
    m->grads = m->params + total;
    m->state0 = m->grads + total;
    m->state1 = m->state0 + total;
    if (m->buffer_count) {
        /* the buffers, followed by room for a copy that a failed train step restores */
        m->buffers = (float *)dst__alloc_aligned(2 * m->buffer_count * sizeof(float), m->alloc_user);
        if (!m->buffers) { dst_model_free(m); return dst__err(err, DST_ERR_NOMEM, "batch norm running statistics"); }
        m->buffers_saved = m->buffers + m->buffer_count;
        m->own_buffers = m->buffers;
    }
    for (i = 0; i < m->layer_count; ++i) {
        const dst__layer_ops *ops = dst__ops(&m->layers[i]);
        if (ops->init) ops->init(&m->layers[i], m->params, m->buffers, &m->rng);
    }
    *out = m;
    return DST_OK;
}

DSTDEF dst_result dst_model_create(dst_model **out, const dst_model_desc *desc, dst_error *err)
{
    return dst__model_create(out, desc, 0, err);
}

DSTDEF size_t dst_model_input_size(const dst_model *m) { return m ? m->in_size : 0; }
DSTDEF size_t dst_model_output_size(const dst_model *m) { return m ? m->out_size : 0; }
DSTDEF int dst_model_layer_count(const dst_model *m) { return m ? m->layer_count : 0; }
DSTDEF size_t dst_model_param_count(const dst_model *m) { return m ? m->param_count : 0; }
DSTDEF float *dst_model_params(dst_model *m) { return m ? m->params : NULL; }
DSTDEF float *dst_model_grads(dst_model *m) { return m && dst__model_own(m) == DST_OK ? m->grads : NULL; }
DSTDEF size_t dst_model_buffer_count(const dst_model *m) { return m ? m->buffer_count : 0; }
DSTDEF float *dst_model_buffers(dst_model *m) { return m ? m->buffers : NULL; }
#ifndef DST_INFERENCE_ONLY
DSTDEF long dst_model_step_count(const dst_model *m) { return m ? m->step : 0; }
#endif

DSTDEF dst_result dst_model_layer(const dst_model *m, int index, dst_layer_info *info)
{
    const dst__layer *ly;
    if (!m || !info || index < 0 || index >= m->layer_count) return DST_ERR_ARG;
    ly = &m->layers[index];
    info->desc = ly->desc;
    info->in_c = ly->in_c; info->in_h = ly->in_h; info->in_w = ly->in_w;
    info->out_c = ly->out_c; info->out_h = ly->out_h; info->out_w = ly->out_w;
    info->param_offset = ly->param_offset;
    info->weight_count = ly->weight_count;
    info->bias_count = ly->bias_count;
    info->buffer_offset = ly->buffer_offset;
    info->buffer_count = ly->buffer_count;
    info->int8 = ly->q_w != NULL;
    return DST_OK;
}

/* *floats += n rounded up to 16; 0 when the sum would wrap. */
static int dst__ws_add(size_t *floats, size_t n)
{
    if (n > (size_t)-1 - 15 || ((n + 15) & ~(size_t)15) > (size_t)-1 - *floats) return 0;
    *floats += (n + 15) & ~(size_t)15;
    return 1;
}

/* Sizes the workspace for batch samples: every layer's output (and its
   scratch: dropout masks, pooling argmax, batch norm statistics), two
   gradient buffers, teacher logits, loss scratch, the im2col columns and
   the largest scratch a layer needs while it runs (a conv layer's partial
   dW sums). */
DSTDEF dst_result dst_model_reserve(dst_model *m, int batch)
{
    size_t floats = 0, per, off = 0, scratch = 0;
    int i;
    float *ws;
    if (!m) return DST_ERR_ARG;
    if (batch < 1) return dst__fail(m, DST_ERR_ARG, "batch %d: must be >= 1", batch);
    if (batch <= m->ws_batch) return DST_OK;
#define DST__ROUND16(x) (((x) + 15) & ~(size_t)15)
    for (i = 0; i < m->layer_count; ++i) {
        dst__layer *ly = &m->layers[i];
        if (!dst__mul_ok(ly->out_size, (size_t)batch, &per)) goto too_big;
        if (i > 0 && m->layers[i - 1].relu_fused) per = 0; /* shares the dense or conv layer's buffer */
        if (i > 0 && (dst__ops(ly)->flags & DST__KIND_IN_PLACE)) per = 0; /* its input's buffer */
        if (!dst__ws_add(&floats, per) || !dst__ws_add(&floats, dst__layer_aux_floats(ly, batch))) goto too_big;
    }
    if (!dst__ws_add(&floats, m->col_floats)) goto too_big;
    for (i = 0; i < m->layer_count; ++i) {
        const dst__layer_ops *ops = dst__ops(&m->layers[i]);
        size_t n = ops->scratch_floats ? ops->scratch_floats(&m->layers[i], batch) : 0;
        if (n > scratch) scratch = n;
    }
    if (!dst__ws_add(&floats, scratch)) goto too_big;
    if (!dst__mul_ok(m->max_size, (size_t)batch, &per) || !dst__ws_add(&floats, per) || !dst__ws_add(&floats, per))
        goto too_big;
    per = m->out_size * (size_t)batch; /* out_size <= max_size */
    if (!dst__ws_add(&floats, per) || !dst__ws_add(&floats, per) || !dst__ws_add(&floats, 2 * m->out_size)) goto too_big;
    if (floats > (size_t)-1 / sizeof(float)) goto too_big;
    ws = (float *)dst__alloc_aligned(floats * sizeof(float), m->alloc_user);
    if (!ws) return dst__fail(m, DST_ERR_NOMEM, "workspace for batch %d (%lu floats)", batch, (unsigned long)floats);
    dst__model_release_workspace(m);
    m->ws = ws;
    m->ws_batch = batch;
    for (i = 0; i < m->layer_count; ++i) {
        dst__layer *ly = &m->layers[i];
        if (i > 0 && (m->layers[i - 1].relu_fused || (dst__ops(ly)->flags & DST__KIND_IN_PLACE))) {
            ly->out = m->layers[i - 1].out;
        } else {
            ly->out = ws + off;
            off += DST__ROUND16(ly->out_size * (size_t)batch);
        }
        ly->aux = NULL;
        if ((per = dst__layer_aux_floats(ly, batch)) != 0) {
            ly->aux = ws + off;
            off += DST__ROUND16(per);
        }
    }
    m->col = m->col_floats ? ws + off : NULL;
    off += DST__ROUND16(m->col_floats);
    m->scratch_layer = scratch ? ws + off : NULL;
    off += DST__ROUND16(scratch);
    per = DST__ROUND16(m->max_size * (size_t)batch);
    m->dbuf[0] = ws + off; off += per;
    m->dbuf[1] = ws + off; off += per;
    m->tlogits = ws + off; off += DST__ROUND16(m->out_size * (size_t)batch);
    m->dlogits = ws + off; off += DST__ROUND16(m->out_size * (size_t)batch);
    m->scratch = ws + off;
    m->trained_forward = 0;
#undef DST__ROUND16
    return DST_OK;
too_big:
    return dst__fail(m, DST_ERR_NOMEM, "workspace for batch %d overflows size_t", batch);
}

/* ---- dense: y = x W^T + b ------------------------------------------------ */

DSTDEF dst_layer_desc dst_dense(int units)
{
    dst_layer_desc d = dst__layer_of(DST_LAYER_DENSE, 0);
    d.units = units;
    return d;
}

/* A dense layer flattens its input: in = C x H x W of the previous output. */
static dst_result dst__dense_layer_shape(dst__layer *ly, int index, dst_error *err)
{
    const dst_layer_desc *d = &ly->desc;
    size_t in = ly->in_size;
    dst_result r;
    if (d->units < 1)
        return dst__err(err, DST_ERR_ARG, "layer %d (dense): units %d, must be >= 1", index, d->units);
    if ((r = dst__check_init(ly, index, err)) != DST_OK) return r;
    if (!dst__mul_ok(in, (size_t)d->units, &ly->weight_count) || in > INT_MAX)
        return dst__err(err, DST_ERR_ARG, "layer %d (dense): %lu x %d weights is too many",
                        index, (unsigned long)in, d->units);
    ly->bias_count = d->no_bias ? 0 : (size_t)d->units;
    ly->out_c = d->units; ly->out_h = 1; ly->out_w = 1;
    return DST_OK;
}

static int dst__dense_layer_weight_dims(const dst__layer *ly, uint64_t *dims)
{
    dims[0] = (uint64_t)ly->desc.units;
    dims[1] = ly->in_size;
    return 2;
}

/* After the GEMM, in place on y (rows x cols): y += b (b may be NULL), then
   ReLU when relu is set. One pass for both: a dense layer followed by a
   ReLU layer does the ReLU here (see dst__layer.relu_fused). */
static void dst__bias_relu_scalar(float *y, const float *b, size_t rows, size_t cols, int relu)
{
    size_t i, j;
    for (i = 0; i < rows; ++i, y += cols) {
        if (b) for (j = 0; j < cols; ++j) y[j] += b[j];
        if (relu) dst__relu_scalar(y, y, cols);
    }
}

/* db[j] = sum over rows of dy[i][j] (row i at dy + i * ld), added in row
   order: the same sum, bit for bit, whatever the path */
static void dst__column_sums_scalar(const float *DST__RESTRICT dy, size_t ld, float *DST__RESTRICT db,
                                    size_t rows, size_t cols)
{
    size_t i, j;
    memset(db, 0, cols * sizeof(float));
    for (i = 0; i < rows; ++i, dy += ld)
        for (j = 0; j < cols; ++j) db[j] += dy[j];
}

#if defined(DST__V4ISA)
/* dst__bias_relu_sse2 / _neon, dst__column_sums_sse2 / _neon */
static void DST__V4NAME(dst__bias_relu)(float *y, const float *b, size_t rows, size_t cols, int relu)
{
    size_t i, j;
    if (!b && !relu) return;
    for (i = 0; i < rows; ++i, y += cols) {
        for (j = 0; j + 4 <= cols; j += 4) {
            dst__v4 v = DST__VLOAD(DST__V4ISA, y + j);
            if (b) v = DST__VADD(DST__V4ISA, v, DST__VLOAD(DST__V4ISA, b + j));
            if (relu) v = DST__VPOS_OR_0(DST__V4ISA, v, v);
            DST__VSTORE(DST__V4ISA, y + j, v);
        }
        dst__bias_relu_scalar(y + j, b ? b + j : NULL, 1, cols - j, relu);
    }
}

static void DST__V4NAME(dst__column_sums)(const float *DST__RESTRICT dy, size_t ld, float *DST__RESTRICT db,
                                          size_t rows, size_t cols)
{
    size_t i, j, vec = cols & ~(size_t)3;
    const float *r = dy;
    memset(db, 0, vec * sizeof(float));
    for (i = 0; i < rows; ++i, r += ld)
        for (j = 0; j < vec; j += 4)
            DST__VSTORE(DST__V4ISA, db + j, DST__VADD(DST__V4ISA, DST__VLOAD(DST__V4ISA, db + j), DST__VLOAD(DST__V4ISA, r + j)));
    dst__column_sums_scalar(dy + vec, ld, db + vec, rows, cols - vec);
}
#endif

static void dst__bias_relu(float *y, const float *b, size_t rows, size_t cols, int relu)
{
    dst__kern()->bias_relu(y, b, rows, cols, relu);
}

#ifndef DST_INFERENCE_ONLY
static void dst__column_sums(const float *dy, size_t ld, float *db, size_t rows, size_t cols)
{
    dst__kern()->column_sums(dy, ld, db, rows, cols);
}
#endif

/* A GEMM inside a model: its threads and packing buffers. */
static void dst__sgemm_packed(const dst_model *mdl, int trans_a, int trans_b, int m, int n, int k, float alpha,
                              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    dst__sgemm_run(&mdl->threads, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, mdl->packs,
                   mdl->npacks, DST__GEMM_PACK_FLOATS);
}

static const float *dst__dense_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    const float *w = m->params + ly->param_offset;
    int out = ly->desc.units, in = (int)ly->in_size;
    (void)training;
    dst__sgemm_packed(m, 0, 1, batch, out, in, 1.0f, x, in, w, in, 0.0f, ly->out, out);
    dst__bias_relu(ly->out, ly->bias_count ? w + ly->weight_count : NULL, (size_t)batch, (size_t)out, ly->relu_fused);
    return ly->out;
}

/* dW = dY^T X, db = column sums of dY, dX = dY W (dx NULL: not needed) */
#ifndef DST_INFERENCE_ONLY
static const float *dst__dense_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                              float *dx, int batch)
{
    const float *w = m->params + ly->param_offset;
    float *gw = m->grads + ly->param_offset;
    int out = ly->desc.units, in = (int)ly->in_size;
    dst__sgemm_packed(m, 1, 0, out, in, batch, 1.0f, dy, out, x, in, 0.0f, gw, in);
    if (ly->bias_count) dst__column_sums(dy, (size_t)out, gw + ly->weight_count, (size_t)batch, (size_t)out);
    if (dx) dst__sgemm_packed(m, 0, 0, batch, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
    return dx;
}
#endif

/* q8_requant's constants for channel o */
static void dst__q8_constants(const dst__layer *ly, size_t o, float *kq)
{
    kq[0] = (float)ly->q_bias[o];
    kq[1] = ly->q_mult[o];
    kq[2] = (float)ly->q_zero + 0.5f;
    kq[3] = ly->relu_fused ? kq[2] : 0.0f;
}

/* The outputs of channel o of a layer with integer weights at count
   positions from its int32 sums acc[j]: uint8 to y[j], or (yf
   non-NULL) float to yf[j]. Requantized in float (q8_requant): zero +
   (acc + bias) mult, rounded half up, clamped to [0, 255] ([zero, 255]
   with a fused ReLU). */
static void dst__q8_outputs(const dst__layer *ly, const dst__kernels *kt, size_t o, const int32_t *acc, size_t count,
                            float *yf, uint8_t *y)
{
    size_t j;
    int64_t bias = ly->q_bias[o];
    float kq[4];
    if (yf) {
        double to_real = (double)ly->q_mult[o] * (double)ly->q_scale;
        for (j = 0; j < count; ++j) {
            double v = (double)(acc[j] + bias) * to_real;
            yf[j] = ly->relu_fused && v < 0 ? 0.0f : (float)v;
        }
        return;
    }
    dst__q8_constants(ly, o, kq);
    kt->q8_requant(acc, count, kq, y);
}

/* int8: rows of dot products, in blocks of rows that stay in L1 (16 KB of
   weights, 4 rows at least) while every sample of the batch goes by */
static const uint8_t *dst__dense_layer_forward_q8(dst_model *m, dst__layer *ly, const uint8_t *x, int batch, float *yf)
{
    size_t in = ly->in_size, out = (size_t)ly->desc.units, n, o, r0, block = 16384 / (in ? in : 1) & ~(size_t)3;
    uint8_t *y = (uint8_t *)(void *)ly->out;
    const dst__kernels *kt = dst__kern();
    if (block < 4) block = 4;
    for (r0 = 0; r0 < out; r0 += block) {
        size_t nr = out - r0 < block ? out - r0 : block;
        for (n = 0; n < (size_t)batch; ++n) {
            size_t at = n * out + r0;
            kt->q8_dot(x + n * in, ly->q_w + r0 * in, in, nr, in, m->q_acc, 1);
            if (yf) {
                for (o = 0; o < nr; ++o) dst__q8_outputs(ly, kt, r0 + o, m->q_acc + o, 1, yf + at + o, NULL);
            } else { /* dst__q8_outputs' requantization one value at a time, in a loop the compiler sees through */
                for (o = 0; o < nr; ++o) {
                    float kq[4];
                    dst__q8_constants(ly, r0 + o, kq);
                    y[at + o] = dst__q8_requant_one(m->q_acc[o], kq);
                }
            }
        }
    }
    return yf ? NULL : y;
}

static const dst__layer_ops dst__kind_dense = {
    dst__dense_layer_shape, NULL, dst__init_weights, NULL, dst__dense_layer_forward, DST__TRAIN(dst__dense_layer_backward),
    dst__dense_layer_weight_dims, DST__KIND_FUSES_RELU | DST__KIND_FOLDS_BATCHNORM, DST_ACT_RELU,
    NULL, dst__dense_layer_forward_q8
};

/* ---- conv2d --------------------------------------------------------------
   The convolution kernels (and their paths) sit with the other kernels above. */

DSTDEF dst_layer_desc dst_conv2d(int out_channels, int kernel, int stride, int padding)
{
    dst_layer_desc d = dst__layer_of(DST_LAYER_CONV2D, 0);
    d.units = out_channels;
    d.kernel_h = d.kernel_w = kernel;
    d.stride_h = d.stride_w = stride;
    d.pad_h = d.pad_w = padding;
    d.dilation_h = d.dilation_w = 1;
    d.groups = 1;
    return d;
}

DSTDEF dst_layer_desc dst_depthwise_conv2d(int channels, int kernel, int stride, int padding)
{
    dst_layer_desc d = dst_conv2d(channels, kernel, stride, padding);
    d.groups = channels;
    return d;
}

static dst_conv2d_params dst__conv_params_of(const dst__layer *ly)
{
    dst_conv2d_params p;
    const dst_layer_desc *d = &ly->desc;
    p.in_c = ly->in_c; p.in_h = ly->in_h; p.in_w = ly->in_w; p.out_c = d->units;
    p.kernel_h = d->kernel_h; p.kernel_w = d->kernel_w;
    p.stride_h = d->stride_h; p.stride_w = d->stride_w;
    p.pad_h = d->pad_h; p.pad_w = d->pad_w;
    p.dilation_h = d->dilation_h; p.dilation_w = d->dilation_w;
    p.groups = d->groups;
    return p;
}

static dst_result dst__conv2d_layer_shape(dst__layer *ly, int index, dst_error *err)
{
    const dst_layer_desc *d = &ly->desc;
    dst_conv2d_params p = dst__conv_params_of(ly);
    dst_error e;
    dst_result r;
    if ((r = dst__check_init(ly, index, err)) != DST_OK) return r;
    if (dst_conv2d_check(&p, &ly->out_h, &ly->out_w, &e) != DST_OK)
        return dst__err(err, DST_ERR_ARG, "layer %d (conv2d): %s", index, e.message);
    ly->out_c = d->units;
    /* PyTorch's fans: size(1) and size(0) times the receptive field */
    ly->fan_in = (size_t)(p.in_c / p.groups) * p.kernel_h * p.kernel_w;
    ly->fan_out = (size_t)p.out_c * p.kernel_h * p.kernel_w;
    if (!dst__mul_ok(ly->fan_in, (size_t)p.out_c, &ly->weight_count))
        return dst__err(err, DST_ERR_ARG, "layer %d (conv2d): too many weights", index);
    ly->bias_count = d->no_bias ? 0 : (size_t)d->units;
    ly->col_floats = dst__conv_work_floats(&p, DST__CONV_AUTO, dst__conv_samples_per_gemm(&p));
    return DST_OK;
}

static int dst__conv2d_layer_weight_dims(const dst__layer *ly, uint64_t *dims)
{
    const dst_layer_desc *d = &ly->desc;
    dims[0] = (uint64_t)d->units; dims[1] = (uint64_t)(ly->in_c / d->groups);
    dims[2] = (uint64_t)d->kernel_h; dims[3] = (uint64_t)d->kernel_w;
    return 4;
}

/* On threads, a conv layer cuts its batch into groups of samples by the
   shapes alone (dst__conv_groups): each group is one call of the path, on
   whichever worker, with that worker's im2col scratch and packing buffer.
   Backward: group 0 writes dW and db, group g > 0 its partial sums in the
   model's layer scratch, then these are added to group 0's in group order. So
   the bits do not depend on the thread count (nor on having threads: a
   model without them runs the same groups one after another). Groups are
   at least DST__CONV_GROUP_FLOPS multiply-adds; at most
   DST__CONV_MAX_GROUPS, and fewer when the partial sums would pass
   DST__CONV_PARTIAL_FLOATS. */
#define DST__CONV_MAX_GROUPS 16
#define DST__CONV_GROUP_FLOPS (4 * DST__PAR_MIN_FLOPS)
#define DST__CONV_PARTIAL_FLOATS ((size_t)1 << 22)

/* samples per group of a batch of the layer */
static int dst__conv_group_size(const dst__layer *ly, int batch)
{
    dst_conv2d_params p = dst__conv_params_of(ly);
    double sample = (double)p.out_c * dst__conv_out_h(&p) * dst__conv_out_w(&p) * (p.in_c / p.groups) * p.kernel_h *
                    p.kernel_w, groups = (double)batch * sample / DST__CONV_GROUP_FLOPS;
    size_t params = ly->weight_count + ly->bias_count;
    if (groups > DST__CONV_MAX_GROUPS) groups = DST__CONV_MAX_GROUPS;
    if (params && groups > (double)(DST__CONV_PARTIAL_FLOATS / params) + 1) groups = (double)(DST__CONV_PARTIAL_FLOATS / params) + 1;
    if (groups < 1) groups = 1;
    return (int)((batch + (int)groups - 1) / (int)groups);
}

/* the partial dW and db of groups 1 .. */
static size_t dst__conv2d_layer_scratch_floats(const dst__layer *ly, int batch)
{
    int size = dst__conv_group_size(ly, batch);
    return (size_t)((batch + size - 1) / size - 1) * (ly->weight_count + ly->bias_count);
}

typedef struct dst__conv_job {
    dst_model *m;
    const dst__layer *ly;
    dst_conv2d_params p;
    const float *x, *dy;
    float *dx, *gw;
    int batch, size, nb;
} dst__conv_job;

static float *dst__worker_col(const dst_model *m, int worker) { return worker ? m->cols[worker] : m->col; }

static void dst__conv_forward_group(void *ctx, int group, int worker)
{
    const dst__conv_job *j = (const dst__conv_job *)ctx;
    const dst__layer *ly = j->ly;
    const float *w = j->m->params + ly->param_offset;
    int s0 = group * j->size, n = j->batch - s0 < j->size ? j->batch - s0 : j->size;
    dst__conv2d_forward_relu(&j->p, DST__CONV_AUTO, n, j->x + (size_t)s0 * ly->in_size, w,
                             ly->bias_count ? w + ly->weight_count : NULL, ly->relu_fused,
                             ly->out + (size_t)s0 * ly->out_size, dst__worker_col(j->m, worker), j->nb, j->m->packs[worker]);
}

#ifndef DST_INFERENCE_ONLY
static void dst__conv_backward_group(void *ctx, int group, int worker)
{
    const dst__conv_job *j = (const dst__conv_job *)ctx;
    const dst__layer *ly = j->ly;
    int s0 = group * j->size, n = j->batch - s0 < j->size ? j->batch - s0 : j->size;
    float *gw = group ? j->m->scratch_layer + (size_t)(group - 1) * (ly->weight_count + ly->bias_count) : j->gw;
    dst__conv2d_backward(&j->p, DST__CONV_AUTO, n, j->x + (size_t)s0 * ly->in_size, j->m->params + ly->param_offset,
                         j->dy + (size_t)s0 * ly->out_size, j->dx ? j->dx + (size_t)s0 * ly->in_size : NULL, gw,
                         ly->bias_count ? gw + ly->weight_count : NULL, dst__worker_col(j->m, worker), j->nb,
                         j->m->packs[worker]);
}
#endif

/* the job of a batch, and its group count */
static int dst__conv_job_of(dst__conv_job *j, dst_model *m, const dst__layer *ly, const float *x, int batch)
{
    memset(j, 0, sizeof *j);
    j->m = m; j->ly = ly; j->x = x; j->batch = batch;
    j->p = dst__conv_params_of(ly);
    j->size = dst__conv_group_size(ly, batch);
    j->nb = dst__conv_samples_per_gemm(&j->p);
    return (batch + j->size - 1) / j->size;
}

static const float *dst__conv2d_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    dst__conv_job j;
    int groups = dst__conv_job_of(&j, m, ly, x, batch);
    (void)training;
    dst__par_for(&m->threads, dst__par_workers(&m->threads, groups, m->npacks), groups, dst__conv_forward_group, &j);
    return ly->out;
}

#ifndef DST_INFERENCE_ONLY
static const float *dst__conv2d_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                               float *dx, int batch)
{
    dst__conv_job j;
    int groups = dst__conv_job_of(&j, m, ly, x, batch), g;
    size_t n = ly->weight_count + ly->bias_count;
    j.dy = dy; j.dx = dx; j.gw = m->grads + ly->param_offset;
    dst__par_for(&m->threads, dst__par_workers(&m->threads, groups, m->npacks), groups, dst__conv_backward_group, &j);
    for (g = 1; g < groups; ++g) {
        size_t off, step = (size_t)1 << 30;
        for (off = 0; off < n; off += step)
            dst__row_add(dst__kern()->conv_rows, j.gw + off, m->scratch_layer + (size_t)(g - 1) * n + off,
                         (int)(n - off < step ? n - off : step));
    }
    return dx;
}
#endif

/* int8: per sample and group, the patches of the input (m->col holds
   them: dst_model_quantize sized it), the group's filters against every
   position (q8_conv: the int32 sums, channel by channel, in dbuf[0], which
   the int8 forward leaves free here), then each channel's outputs */
static const uint8_t *dst__conv2d_layer_forward_q8(dst_model *m, dst__layer *ly, const uint8_t *x, int batch, float *yf)
{
    dst_conv2d_params p = dst__conv_params_of(ly);
    size_t npos = (size_t)ly->out_h * ly->out_w, og = (size_t)(p.out_c / p.groups), k = ly->weight_count / (size_t)p.out_c;
    size_t n, g, r;
    uint8_t *col = (uint8_t *)(void *)m->col, *y = (uint8_t *)(void *)ly->out;
    int32_t *acc = (int32_t *)(void *)m->dbuf[0];
    const dst__kernels *kt = dst__kern();
    for (n = 0; n < (size_t)batch; ++n)
        for (g = 0; g < (size_t)p.groups; ++g) {
            size_t at = n * ly->out_size + g * og * npos;
            dst__q8_patches(&p, x + n * ly->in_size, (int)g, (uint8_t)ly->q_in_zero, col, kt);
            kt->q8_conv(col, ly->q_w + g * og * k, k, npos, og, acc);
            for (r = 0; r < og; ++r)
                dst__q8_outputs(ly, kt, g * og + r, acc + r * npos, npos, yf ? yf + at + r * npos : NULL, y + at + r * npos);
        }
    return yf ? NULL : y;
}

static const dst__layer_ops dst__kind_conv2d = {
    dst__conv2d_layer_shape, NULL, dst__init_weights, NULL, dst__conv2d_layer_forward, DST__TRAIN(dst__conv2d_layer_backward),
    dst__conv2d_layer_weight_dims, DST__KIND_FUSES_RELU | DST__KIND_FOLDS_BATCHNORM, DST_ACT_RELU,
    dst__conv2d_layer_scratch_floats,
    dst__conv2d_layer_forward_q8
};

/* ---- pooling: maxpool2d, avgpool2d, global_avgpool ----------------------- */

static dst_layer_desc dst__pool_of(dst_layer_kind kind, int kernel, int stride, int padding)
{
    dst_layer_desc d = dst__layer_of(kind, 0);
    d.kernel_h = d.kernel_w = kernel;
    d.stride_h = d.stride_w = stride;
    d.pad_h = d.pad_w = padding;
    return d;
}

DSTDEF dst_layer_desc dst_maxpool2d(int kernel, int stride, int padding) { return dst__pool_of(DST_LAYER_MAXPOOL2D, kernel, stride, padding); }
DSTDEF dst_layer_desc dst_avgpool2d(int kernel, int stride, int padding) { return dst__pool_of(DST_LAYER_AVGPOOL2D, kernel, stride, padding); }
DSTDEF dst_layer_desc dst_global_avgpool(void) { return dst__layer_of(DST_LAYER_GLOBAL_AVGPOOL, 0); }

static dst_pool2d_params dst__pool_params_of(const dst__layer *ly)
{
    dst_pool2d_params p;
    const dst_layer_desc *d = &ly->desc;
    p.channels = ly->in_c; p.in_h = ly->in_h; p.in_w = ly->in_w;
    p.kernel_h = d->kernel_h; p.kernel_w = d->kernel_w;
    p.stride_h = d->stride_h; p.stride_w = d->stride_w;
    p.pad_h = d->pad_h; p.pad_w = d->pad_w;
    return p;
}

/* maxpool2d and avgpool2d; a stride of 0 becomes the kernel size. */
static dst_result dst__pool_layer_shape(dst__layer *ly, int index, dst_error *err)
{
    dst_layer_desc *d = &ly->desc;
    dst_pool2d_params p = dst__pool_params_of(ly);
    dst_error e;
    if (dst_pool2d_check(&p, &ly->out_h, &ly->out_w, &e) != DST_OK)
        return dst__err(err, DST_ERR_ARG, "layer %d (%s): %s", index, dst_layer_name(d->kind), e.message);
    if (d->stride_h == 0) d->stride_h = d->kernel_h;
    if (d->stride_w == 0) d->stride_w = d->kernel_w;
    return DST_OK;
}

static size_t dst__maxpool2d_layer_aux_floats(const dst__layer *ly, int batch)
{
    return ly->out_size * (size_t)batch; /* int32 argmax */
}

/* Pooling on threads: groups of samples of about DST__PAR_ELEMS input values. */
typedef struct dst__pool_job {
    dst_pool2d_params p;
    const dst__layer *ly;
    const float *x, *dy; /* forward: x; backward: dy */
    float *dx;
    int batch, size;
} dst__pool_job;

static void dst__pool_group(void *ctx, int group, int worker)
{
    const dst__pool_job *j = (const dst__pool_job *)ctx;
    const dst__layer *ly = j->ly;
    int s0 = group * j->size, n = j->batch - s0 < j->size ? j->batch - s0 : j->size;
    size_t in = (size_t)s0 * ly->in_size, out = (size_t)s0 * ly->out_size;
    int32_t *argmax = (int32_t *)(void *)ly->aux;
    (void)worker;
    if (ly->desc.kind == DST_LAYER_MAXPOOL2D) {
        if (j->dy) dst__maxpool_backward(&j->p, n, argmax + out, j->dy + out, j->dx + in);
        else dst__maxpool_forward(&j->p, n, j->x + in, ly->out + out, argmax + out);
    } else {
        if (j->dy) dst__avgpool_backward(&j->p, n, j->dy + out, j->dx + in);
        else dst__avgpool_forward(&j->p, n, j->x + in, ly->out + out);
    }
}

/* A pooling layer's forward (dy NULL) or backward. */
static void dst__pool_run(dst_model *m, const dst__layer *ly, const float *x, const float *dy, float *dx, int batch)
{
    dst__pool_job j;
    int groups;
    j.p = dst__pool_params_of(ly);
    j.ly = ly; j.x = x; j.dy = dy; j.dx = dx; j.batch = batch;
    j.size = ly->in_size >= DST__PAR_ELEMS ? 1 : (int)(DST__PAR_ELEMS / ly->in_size);
    if (j.size > batch) j.size = batch;
    groups = (batch + j.size - 1) / j.size;
    dst__par_for(&m->threads, dst__par_workers_for(&m->threads, groups, (double)j.size * ly->in_size, m->npacks), groups,
                 dst__pool_group, &j);
}

static const float *dst__maxpool2d_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    (void)training;
    dst__pool_run(m, ly, x, NULL, NULL, batch);
    return ly->out;
}

#ifndef DST_INFERENCE_ONLY
static const float *dst__pool_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                             float *dx, int batch)
{
    (void)x;
    if (dx) dst__pool_run(m, ly, NULL, dy, dx, batch);
    return dx;
}
#endif

static const uint8_t *dst__pool_layer_forward_q8(dst_model *m, dst__layer *ly, const uint8_t *x, int batch, float *yf)
{
    dst_pool2d_params p = dst__pool_params_of(ly);
    uint8_t *y = (uint8_t *)(void *)ly->out;
    (void)m; (void)yf;
    if (ly->desc.kind == DST_LAYER_MAXPOOL2D) dst__q8_maxpool(&p, batch, x, y);
    else dst__q8_avgpool(&p, batch, x, ly->q_zero, y);
    return y;
}

static const dst__layer_ops dst__kind_maxpool2d = {
    dst__pool_layer_shape, dst__maxpool2d_layer_aux_floats, NULL, NULL, dst__maxpool2d_layer_forward,
    DST__TRAIN(dst__pool_layer_backward), NULL, DST__KIND_Q8_SAME_SCALE, DST_ACT_RELU, NULL, dst__pool_layer_forward_q8
};

static const float *dst__avgpool2d_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    (void)training;
    dst__pool_run(m, ly, x, NULL, NULL, batch);
    return ly->out;
}

static const dst__layer_ops dst__kind_avgpool2d = {
    dst__pool_layer_shape, NULL, NULL, NULL, dst__avgpool2d_layer_forward, DST__TRAIN(dst__pool_layer_backward),
    NULL, DST__KIND_Q8_SAME_SCALE, DST_ACT_RELU, NULL, dst__pool_layer_forward_q8
};

static dst_result dst__global_avgpool_layer_shape(dst__layer *ly, int index, dst_error *err)
{
    (void)index; (void)err;
    ly->out_h = ly->out_w = 1;
    return DST_OK;
}

static const float *dst__global_avgpool_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch,
                                                      int training)
{
    size_t c, i, planes = (size_t)batch * ly->in_c, n = (size_t)ly->in_h * ly->in_w;
    (void)m; (void)training;
    for (c = 0; c < planes; ++c) {
        float s = 0;
        for (i = 0; i < n; ++i) s += x[c * n + i];
        ly->out[c] = s / (float)n;
    }
    return ly->out;
}

#ifndef DST_INFERENCE_ONLY
static const float *dst__global_avgpool_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                                       float *dx, int batch)
{
    size_t c, i, planes = (size_t)batch * ly->in_c, n = (size_t)ly->in_h * ly->in_w;
    (void)m; (void)x;
    if (!dx) return dx;
    for (c = 0; c < planes; ++c) {
        float d = dy[c] / (float)n;
        for (i = 0; i < n; ++i) dx[c * n + i] = d;
    }
    return dx;
}
#endif

/* int8: each plane's mean, rounded half up (same scale in and out) */
static const uint8_t *dst__global_avgpool_layer_forward_q8(dst_model *m, dst__layer *ly, const uint8_t *x, int batch,
                                                           float *yf)
{
    size_t c, i, planes = (size_t)batch * ly->in_c, n = (size_t)ly->in_h * ly->in_w;
    uint8_t *y = (uint8_t *)(void *)ly->out;
    (void)m; (void)yf;
    for (c = 0; c < planes; ++c) {
        uint64_t s = 0;
        for (i = 0; i < n; ++i) s += x[c * n + i];
        y[c] = (uint8_t)((2 * s + n) / (2 * n));
    }
    return y;
}

static const dst__layer_ops dst__kind_global_avgpool = {
    dst__global_avgpool_layer_shape, NULL, NULL, NULL, dst__global_avgpool_layer_forward,
    DST__TRAIN(dst__global_avgpool_layer_backward), NULL, DST__KIND_Q8_SAME_SCALE, DST_ACT_RELU, NULL, dst__global_avgpool_layer_forward_q8
};

/* ---- batch normalization ------------------------------------------------- */

/* eps 1e-5, momentum 0.1 (in param), as PyTorch's defaults. */
DSTDEF dst_layer_desc dst_batchnorm(void)
{
    dst_layer_desc d = dst__layer_of(DST_LAYER_BATCHNORM, 0.1f);
    d.eps = 1e-5f;
    return d;
}

static dst_batchnorm_params dst__batchnorm_params_of(const dst__layer *ly)
{
    dst_batchnorm_params p;
    p.channels = ly->in_c;
    p.spatial = ly->in_h * ly->in_w;
    p.eps = ly->desc.eps;
    p.momentum = ly->desc.param;
    return p;
}

/* weight and bias [C]; buffers: running mean [C], then running variance [C] */
static dst_result dst__batchnorm_layer_shape(dst__layer *ly, int index, dst_error *err)
{
    const dst_layer_desc *d = &ly->desc;
    size_t plane = (size_t)ly->in_h * ly->in_w;
    if (!(d->param >= 0 && d->param <= 1))
        return dst__err(err, DST_ERR_ARG, "layer %d (batchnorm): momentum %g, must be in [0, 1]", index, (double)d->param);
    if (!(d->eps > 0) || !dst__finite(d->eps))
        return dst__err(err, DST_ERR_ARG, "layer %d (batchnorm): eps %g, must be finite and > 0", index, (double)d->eps);
    if (plane > INT_MAX)
        return dst__err(err, DST_ERR_ARG, "layer %d (batchnorm): %d x %d values per channel is too many",
                        index, ly->in_h, ly->in_w);
    ly->weight_count = ly->bias_count = (size_t)ly->in_c;
    ly->buffer_count = 2 * (size_t)ly->in_c;
    return DST_OK;
}

static size_t dst__batchnorm_layer_aux_floats(const dst__layer *ly, int batch)
{
    (void)batch;
    return 2 * (size_t)ly->in_c; /* the batch's mean and invstd */
}

/* weight 1, bias 0; running mean 0, variance 1, as PyTorch starts them */
static void dst__batchnorm_layer_init(const dst__layer *ly, float *params, float *buffers, dst_rng *rng)
{
    float *w = params + ly->param_offset, *run = buffers + ly->buffer_offset;
    size_t i, channels = (size_t)ly->in_c;
    (void)rng;
    memset(w + ly->weight_count, 0, ly->bias_count * sizeof(float));
    for (i = 0; i < ly->weight_count; ++i) w[i] = 1.0f;
    for (i = 0; i < channels; ++i) { run[i] = 0.0f; run[channels + i] = 1.0f; }
}

/* Training normalises with batch statistics: each channel needs two values. */
static dst_result dst__batchnorm_layer_check_batch(dst_model *m, const dst__layer *ly, int index, int batch)
{
    if ((size_t)batch * ly->in_h * ly->in_w < 2)
        return dst__fail(m, DST_ERR_ARG, "layer %d (batchnorm): training needs more than one value per channel "
                         "(batch %d x %d x %d)", index, batch, ly->in_h, ly->in_w);
    return DST_OK;
}

/* On threads: blocks of channels of about DST__PAR_ELEMS values. */
typedef struct dst__bn_job {
    dst_model *m;
    const dst__layer *ly;
    dst_batchnorm_params p;
    const float *x, *dy; /* backward: dy */
    float *dx;
    int batch, training, size;
} dst__bn_job;

static void dst__bn_block(void *ctx, int block, int worker)
{
    const dst__bn_job *j = (const dst__bn_job *)ctx;
    const dst__layer *ly = j->ly;
    const float *g = j->m->params + ly->param_offset;
    float *run = j->m->buffers + ly->buffer_offset, *gg;
    int c0 = block * j->size, c1 = c0 + j->size < ly->in_c ? c0 + j->size : ly->in_c;
    (void)worker;
    if (j->dy) {
        gg = j->m->grads + ly->param_offset; /* (an inference model has no gradients: forward does not touch them) */
        dst__batchnorm_backward(&j->p, j->batch, j->x, g, ly->aux, ly->aux + ly->in_c, j->dy, j->dx, gg,
                                gg + ly->weight_count, c0, c1);
    } else
        dst__batchnorm_forward(&j->p, j->batch, j->training, j->x, g, g + ly->weight_count, run, run + ly->in_c,
                               ly->out, ly->aux, ly->aux + ly->in_c, c0, c1);
}

static void dst__bn_run(dst_model *m, const dst__layer *ly, const float *x, const float *dy, float *dx, int batch,
                        int training)
{
    dst__bn_job j;
    double per = (double)batch * ly->in_h * ly->in_w; /* values a channel */
    int blocks;
    j.m = m; j.ly = ly; j.p = dst__batchnorm_params_of(ly);
    j.x = x; j.dy = dy; j.dx = dx; j.batch = batch; j.training = training;
    j.size = per >= DST__PAR_ELEMS ? 1 : (int)(DST__PAR_ELEMS / per);
    if (j.size > ly->in_c) j.size = ly->in_c;
    blocks = (ly->in_c + j.size - 1) / j.size;
    dst__par_for(&m->threads, dst__par_workers_for(&m->threads, blocks, per * j.size, m->npacks), blocks,
                 dst__bn_block, &j);
}

static const float *dst__batchnorm_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    dst__bn_run(m, ly, x, NULL, NULL, batch, training);
    return ly->out;
}

#ifndef DST_INFERENCE_ONLY
static const float *dst__batchnorm_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                                  float *dx, int batch)
{
    dst__bn_run(m, ly, x, dy, dx, batch, 1);
    return dx;
}
#endif

static const dst__layer_ops dst__kind_batchnorm = {
    dst__batchnorm_layer_shape, dst__batchnorm_layer_aux_floats, dst__batchnorm_layer_init,
    dst__batchnorm_layer_check_batch, dst__batchnorm_layer_forward, DST__TRAIN(dst__batchnorm_layer_backward), NULL, 0, DST_ACT_RELU,
    NULL, NULL
};

/* ---- dropout ------------------------------------------------------------- */

DSTDEF dst_layer_desc dst_dropout(float rate) { return dst__layer_of(DST_LAYER_DROPOUT, rate); }

static size_t dst__dropout_layer_aux_floats(const dst__layer *ly, int batch)
{
    return ly->out_size * (size_t)batch; /* the mask */
}

/* Inference passes x on (the next layer reads it; nothing is copied). */
static const float *dst__dropout_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    size_t i, n = ly->out_size * (size_t)batch;
    float rate = ly->desc.param, keep_scale;
    if (!training) return x;
    if (rate == 0) {
        if (ly->out != x) memcpy(ly->out, x, n * sizeof(float));
        if (ly->aux) for (i = 0; i < n; ++i) ly->aux[i] = 1.0f;
        return ly->out;
    }
    keep_scale = 1.0f / (1.0f - rate);
    for (i = 0; i < n; ++i) {
        ly->aux[i] = dst_rng_uniform(&m->rng) >= rate ? keep_scale : 0.0f;
        ly->out[i] = x[i] * ly->aux[i];
    }
    return ly->out;
}

#ifndef DST_INFERENCE_ONLY
static const float *dst__dropout_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                                float *dx, int batch)
{
    size_t j, n = ly->out_size * (size_t)batch;
    (void)m; (void)x;
    if (dx) for (j = 0; j < n; ++j) dx[j] = dy[j] * ly->aux[j];
    return dx;
}
#endif

/* int8 (inference): the input passes on, as in float */
static const uint8_t *dst__dropout_layer_forward_q8(dst_model *m, dst__layer *ly, const uint8_t *x, int batch, float *yf)
{
    (void)m; (void)ly; (void)batch; (void)yf;
    return x;
}

static const dst__layer_ops dst__kind_dropout = {
    dst__check_rate, dst__dropout_layer_aux_floats, NULL, NULL, dst__dropout_layer_forward,
    DST__TRAIN(dst__dropout_layer_backward), NULL, DST__KIND_Q8_SAME_SCALE, DST_ACT_RELU, NULL, dst__dropout_layer_forward_q8
};

/* ---- spatial dropout ----------------------------------------------------- */

DSTDEF dst_layer_desc dst_dropout2d(float rate) { return dst__layer_of(DST_LAYER_DROPOUT2D, rate); }

static size_t dst__dropout2d_layer_aux_floats(const dst__layer *ly, int batch)
{
    return (size_t)ly->out_c * (size_t)batch; /* the mask */
}

/* One draw per sample and channel: the whole H x W plane is kept (scaled by
   1 / (1 - rate)) or zeroed. aux holds the batch x C mask. */
static const float *dst__dropout2d_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    size_t c, i, planes = (size_t)batch * ly->out_c, n = (size_t)ly->out_h * ly->out_w;
    float rate = ly->desc.param, keep_scale = 1.0f / (1.0f - rate);
    for (c = 0; c < planes; ++c) {
        float k = !training || rate == 0 ? 1.0f : dst_rng_uniform(&m->rng) >= rate ? keep_scale : 0.0f;
        ly->aux[c] = k;
        for (i = 0; i < n; ++i) ly->out[c * n + i] = x[c * n + i] * k;
    }
    return ly->out;
}

#ifndef DST_INFERENCE_ONLY
static const float *dst__dropout2d_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                                  float *dx, int batch)
{
    size_t c, i, planes = (size_t)batch * ly->out_c, n = (size_t)ly->out_h * ly->out_w;
    (void)m; (void)x;
    if (!dx) return dx;
    for (c = 0; c < planes; ++c)
        for (i = 0; i < n; ++i) dx[c * n + i] = dy[c * n + i] * ly->aux[c];
    return dx;
}
#endif

static const dst__layer_ops dst__kind_dropout2d = {
    dst__check_rate, dst__dropout2d_layer_aux_floats, NULL, NULL, dst__dropout2d_layer_forward,
    DST__TRAIN(dst__dropout2d_layer_backward), NULL, DST__KIND_Q8_SAME_SCALE, DST_ACT_RELU, NULL, dst__dropout_layer_forward_q8
};

/* ---- activations: relu, leaky_relu, sigmoid, tanh, gelu ------------------ */

DSTDEF dst_layer_desc dst_relu(void) { return dst__layer_of(DST_LAYER_RELU, 0); }
DSTDEF dst_layer_desc dst_leaky_relu(float negative_slope) { return dst__layer_of(DST_LAYER_LEAKY_RELU, negative_slope); }
DSTDEF dst_layer_desc dst_sigmoid(void) { return dst__layer_of(DST_LAYER_SIGMOID, 0); }
DSTDEF dst_layer_desc dst_tanh(void) { return dst__layer_of(DST_LAYER_TANH, 0); }
DSTDEF dst_layer_desc dst_gelu(void) { return dst__layer_of(DST_LAYER_GELU, 0); }

/* A ReLU after a layer that fuses it shares that layer's output buffer,
   which already holds the ReLU's output (relu_fused). */
/* ---- activations on threads: blocks of DST__PAR_ELEMS values ---- */

typedef struct dst__act_job {
    dst_activation act;
    float param;
    int backward;
    const float *x, *y, *dy; /* backward: x, y, dy (all set); forward: x */
    float *out;
    size_t n;
} dst__act_job;

static void dst__act_block(void *ctx, int block, int worker)
{
    const dst__act_job *j = (const dst__act_job *)ctx;
    size_t off = (size_t)block * DST__PAR_ELEMS, n = j->n - off < DST__PAR_ELEMS ? j->n - off : DST__PAR_ELEMS;
    (void)worker;
    if (j->backward) dst_activation_backward(j->act, j->param, j->x + off, j->y + off, j->dy + off, j->out + off, n);
    else dst_activation_forward(j->act, j->param, j->x + off, j->out + off, n);
}

/* One activation layer's forward (dy NULL) or backward over n values. */
static void dst__act_run(dst_model *m, const dst__layer *ly, const float *x, const float *y, const float *dy, float *out,
                         size_t n)
{
    dst__act_job j;
    size_t blocks = (n + DST__PAR_ELEMS - 1) / DST__PAR_ELEMS;
    j.act = dst__ops(ly)->activation; j.param = ly->desc.param; j.backward = dy != NULL;
    j.x = x; j.y = y; j.dy = dy; j.out = out; j.n = n;
    if (blocks > (size_t)1 << 20) blocks = 1; /* (no array is this large; blocks stay ints) */
    if (blocks == 1) {
        if (n) dst__act_block(&j, 0, 0);
        return;
    }
    dst__par_for(&m->threads, dst__par_workers_for(&m->threads, (int)blocks, DST__PAR_ELEMS, m->npacks), (int)blocks,
                 dst__act_block, &j);
}

static const float *dst__relu_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    (void)training;
    if (ly->out != x) dst__act_run(m, ly, x, x, NULL, ly->out, ly->out_size * (size_t)batch);
    return ly->out;
}

#ifndef DST_INFERENCE_ONLY
static const float *dst__relu_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                             float *dx, int batch)
{
    (void)x; /* out > 0 where x > 0, and x may be out (a ReLU done in place) */
    if (dx) dst__act_run(m, ly, ly->out, ly->out, dy, dx, ly->out_size * (size_t)batch);
    return dx;
}
#endif

/* int8: no lower than the zero point (a real 0); nothing to do after a
   layer that fused it (the same buffer) */
static const uint8_t *dst__relu_layer_forward_q8(dst_model *m, dst__layer *ly, const uint8_t *x, int batch, float *yf)
{
    size_t i, n = ly->out_size * (size_t)batch;
    uint8_t *y = (uint8_t *)(void *)ly->out, zero = (uint8_t)ly->q_zero;
    (void)m; (void)yf;
    if (y != x) for (i = 0; i < n; ++i) y[i] = x[i] > zero ? x[i] : zero;
    return y;
}

static const dst__layer_ops dst__kind_relu = {
    dst__shape_same, NULL, NULL, NULL, dst__relu_layer_forward, DST__TRAIN(dst__relu_layer_backward), NULL, DST__KIND_Q8_SAME_SCALE,
    DST_ACT_RELU, NULL, dst__relu_layer_forward_q8
};

static dst_result dst__leaky_relu_layer_shape(dst__layer *ly, int index, dst_error *err)
{
    if (!dst__finite(ly->desc.param))
        return dst__err(err, DST_ERR_ARG, "layer %d (leaky_relu): slope must be finite", index);
    return DST_OK;
}

/* The other activations: dst_activation_forward / _backward with the row's
   activation and desc.param. */
static const float *dst__activation_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    (void)training;
    dst__act_run(m, ly, x, x, NULL, ly->out, ly->out_size * (size_t)batch);
    return ly->out;
}

#ifndef DST_INFERENCE_ONLY
static const float *dst__activation_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                                   float *dx, int batch)
{
    if (dx) dst__act_run(m, ly, x, ly->out, dy, dx, ly->out_size * (size_t)batch);
    return dx;
}
#endif

static const dst__layer_ops dst__kind_leaky_relu = {
    dst__leaky_relu_layer_shape, NULL, NULL, NULL, dst__activation_layer_forward, DST__TRAIN(dst__activation_layer_backward),
    NULL, 0, DST_ACT_LEAKY_RELU, NULL, NULL
};
static const dst__layer_ops dst__kind_sigmoid = {
    dst__shape_same, NULL, NULL, NULL, dst__activation_layer_forward, DST__TRAIN(dst__activation_layer_backward),
    NULL, 0, DST_ACT_SIGMOID, NULL, NULL
};
static const dst__layer_ops dst__kind_tanh = {
    dst__shape_same, NULL, NULL, NULL, dst__activation_layer_forward, DST__TRAIN(dst__activation_layer_backward),
    NULL, 0, DST_ACT_TANH, NULL, NULL
};
static const dst__layer_ops dst__kind_gelu = {
    dst__shape_same, NULL, NULL, NULL, dst__activation_layer_forward, DST__TRAIN(dst__activation_layer_backward),
    NULL, 0, DST_ACT_GELU, NULL, NULL
};

/* ---- flatten ------------------------------------------------------------- */

DSTDEF dst_layer_desc dst_flatten(void) { return dst__layer_of(DST_LAYER_FLATTEN, 0); }

static dst_result dst__flatten_layer_shape(dst__layer *ly, int index, dst_error *err)
{
    if (ly->in_size > INT_MAX)
        return dst__err(err, DST_ERR_ARG, "layer %d (flatten): %lu values is too many", index, (unsigned long)ly->in_size);
    ly->out_c = (int)ly->in_size; ly->out_h = ly->out_w = 1;
    return DST_OK;
}

/* Its output is its input's buffer (DST__KIND_IN_PLACE): a copy only as the
   first layer, or after an inference dropout that passed its input on (its
   buffer is free then). */
static const float *dst__flatten_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    (void)m; (void)training;
    if (ly->out != x) memcpy(ly->out, x, ly->out_size * (size_t)batch * sizeof(float));
    return ly->out;
}

/* dy passes through as it is (the model's gradient buffers do not turn). */
#ifndef DST_INFERENCE_ONLY
static const float *dst__flatten_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                                float *dx, int batch)
{
    (void)m; (void)ly; (void)x; (void)dx; (void)batch;
    return dy;
}
#endif

static const uint8_t *dst__flatten_layer_forward_q8(dst_model *m, dst__layer *ly, const uint8_t *x, int batch, float *yf)
{
    uint8_t *y = (uint8_t *)(void *)ly->out;
    (void)m; (void)yf;
    if (y != x) memcpy(y, x, ly->out_size * (size_t)batch);
    return y;
}

static const dst__layer_ops dst__kind_flatten = {
    dst__flatten_layer_shape, NULL, NULL, NULL, dst__flatten_layer_forward, DST__TRAIN(dst__flatten_layer_backward),
    NULL, DST__KIND_IN_PLACE | DST__KIND_Q8_SAME_SCALE, DST_ACT_RELU, NULL, dst__flatten_layer_forward_q8
};

/* ---- softmax ------------------------------------------------------------- */

DSTDEF dst_layer_desc dst_softmax_layer(void) { return dst__layer_of(DST_LAYER_SOFTMAX, 0); }

static const float *dst__softmax_layer_forward(dst_model *m, dst__layer *ly, const float *x, int batch, int training)
{
    (void)m; (void)training;
    dst_softmax(x, ly->out, batch, (int)ly->out_size, 1.0f);
    return ly->out;
}

#ifndef DST_INFERENCE_ONLY
static const float *dst__softmax_layer_backward(dst_model *m, dst__layer *ly, const float *x, const float *dy,
                                                float *dx, int batch)
{
    int i, j, n = (int)ly->out_size;
    (void)m; (void)x;
    if (!dx) return dx;
    for (i = 0; i < batch; ++i) {
        const float *y = ly->out + (size_t)i * n, *g = dy + (size_t)i * n;
        float *d = dx + (size_t)i * n;
        double dot = 0;
        for (j = 0; j < n; ++j) dot += (double)g[j] * (double)y[j];
        for (j = 0; j < n; ++j) d[j] = y[j] * (g[j] - (float)dot);
    }
    return dx;
}
#endif

static const dst__layer_ops dst__kind_softmax = {
    dst__shape_same, NULL, NULL, NULL, dst__softmax_layer_forward, DST__TRAIN(dst__softmax_layer_backward), NULL, 0, DST_ACT_RELU,
    NULL, NULL
};

/* ---- the table of kinds -------------------------------------------------- */

/* The list's values must be 0, 1, 2, ... in the list's order: the table and
   the names are indexed by value. (A compile error here: a value is out of
   place in DST_LAYER_KIND_LIST.) */
enum {
#define DST__KIND_POSITION(kind, value, name) dst__kind_position_##name,
    DST_LAYER_KIND_LIST(DST__KIND_POSITION)
#undef DST__KIND_POSITION
    dst__kind_position_end
};
#define DST__KIND_ORDER_CHECK(kind, value, name) && (value) == dst__kind_position_##name
typedef char dst__layer_kind_values_in_order[(1 DST_LAYER_KIND_LIST(DST__KIND_ORDER_CHECK)) ? 1 : -1];
#undef DST__KIND_ORDER_CHECK

static const dst__layer_ops *const dst__layer_kinds[DST_LAYER_KIND_COUNT] = {
#define DST__KIND_ROW(kind, value, name) &dst__kind_##name,
    DST_LAYER_KIND_LIST(DST__KIND_ROW)
#undef DST__KIND_ROW
};

static const dst__layer_ops *dst__ops(const dst__layer *ly) { return dst__layer_kinds[ly->desc.kind]; }

DSTDEF const char *dst_layer_name(dst_layer_kind kind)
{
    static const char *const names[DST_LAYER_KIND_COUNT] = {
#define DST__KIND_NAME(kind, value, name) #name,
        DST_LAYER_KIND_LIST(DST__KIND_NAME)
#undef DST__KIND_NAME
    };
    return (unsigned)kind < (unsigned)DST_LAYER_KIND_COUNT ? names[kind] : "unknown";
}

/* ---- batch norm folding ------------------------------------------------- */

/* A BATCHNORM right after ly folds into it. */
static int dst__folds_batchnorm(const dst__layer *ly) { return (dst__ops(ly)->flags & DST__KIND_FOLDS_BATCHNORM) != 0; }

/* Scales output channel c's weight row (conv: [in/groups][kh][kw]; dense:
   [in]) and bias by the batch norm that follows; in double, once. */
static void dst__fold_one(const dst__layer *bn, const float *bn_params, const float *bn_buffers,
                          float *w, float *b, size_t units, size_t row)
{
    const float *gamma = bn_params, *beta = bn_params + bn->weight_count;
    const float *mean = bn_buffers, *var = bn_buffers + bn->in_c;
    size_t c, i;
    for (c = 0; c < units; ++c) {
        double s = (double)gamma[c] / sqrt((double)var[c] + (double)bn->desc.eps);
        for (i = 0; i < row; ++i) w[c * row + i] = (float)((double)w[c * row + i] * s);
        b[c] = (float)(((double)b[c] - (double)mean[c]) * s + (double)beta[c]);
    }
}

DSTDEF dst_result dst_model_fold_batchnorm(const dst_model *m, dst_model **folded, dst_error *err)
{
    dst_layer_desc *descs;
    int *from, n = 0, i, k;
    dst_model_desc d = dst_model_desc_default();
    dst_model *f;
    dst_result r;
    dst__err_clear(err);
    if (!folded) return dst__err(err, DST_ERR_ARG, "folded is NULL");
    *folded = NULL;
    if (!m) return dst__err(err, DST_ERR_ARG, "model is NULL");
    descs = (dst_layer_desc *)DST_MALLOC(sizeof *descs * (size_t)m->layer_count, m->alloc_user);
    from = (int *)DST_MALLOC(sizeof *from * (size_t)m->layer_count, m->alloc_user);
    if (!descs || !from) {
        DST_FREE(descs, m->alloc_user);
        DST_FREE(from, m->alloc_user);
        return dst__err(err, DST_ERR_NOMEM, "layer list for folding");
    }
    for (i = 0; i < m->layer_count; ++i) {
        if (m->layers[i].desc.kind == DST_LAYER_BATCHNORM && i > 0 && dst__folds_batchnorm(&m->layers[i - 1])) {
            descs[n - 1].no_bias = 0;
            continue;
        }
        descs[n] = m->layers[i].desc;
        from[n++] = i;
    }
    d.input_c = m->in_c; d.input_h = m->in_h; d.input_w = m->in_w;
    d.layers = descs; d.layer_count = n; d.alloc_user = m->alloc_user;
    r = dst_model_create(&f, &d, err);
    DST_FREE(descs, m->alloc_user);
    if (r != DST_OK) { DST_FREE(from, m->alloc_user); return r; }
    for (k = 0; k < n; ++k) {
        const dst__layer *src = &m->layers[from[k]], *bn = from[k] + 1 < m->layer_count ? src + 1 : NULL;
        dst__layer *dst = &f->layers[k];
        const float *wa = m->params + src->param_offset;
        float *wb = f->params + dst->param_offset;
        memcpy(wb, wa, src->weight_count * sizeof(float));
        if (src->bias_count) memcpy(wb + dst->weight_count, wa + src->weight_count, src->bias_count * sizeof(float));
        else memset(wb + dst->weight_count, 0, dst->bias_count * sizeof(float));
        if (src->buffer_count)
            memcpy(f->buffers + dst->buffer_offset, m->buffers + src->buffer_offset, src->buffer_count * sizeof(float));
        if (bn && bn->desc.kind == DST_LAYER_BATCHNORM && dst__folds_batchnorm(src))
            dst__fold_one(bn, m->params + bn->param_offset, m->buffers + bn->buffer_offset, wb,
                          wb + dst->weight_count, (size_t)src->desc.units, dst->weight_count / (size_t)src->desc.units);
    }
    DST_FREE(from, m->alloc_user);
    *folded = f;
    return DST_OK;
}

/* ==== models: forward, backward, predict, evaluate ================ >>run */

static int dst__batch_ok(dst_model *m, const float *x, int batch, dst_result *r)
{
    if (!x) { *r = dst__fail(m, DST_ERR_ARG, "input x is NULL"); return 0; }
    if (batch < 1) { *r = dst__fail(m, DST_ERR_ARG, "batch %d: must be >= 1", batch); return 0; }
    if ((*r = dst_model_reserve(m, batch)) != DST_OK) return 0;
    return 1;
}

/* A training forward's checks of the batch size, layer by layer. */
static dst_result dst__layers_batch_ok(dst_model *m, int batch)
{
    int i;
    dst_result r;
    for (i = 0; i < m->layer_count; ++i) {
        const dst__layer *ly = &m->layers[i];
        const dst__layer_ops *ops = dst__ops(ly);
        if (ops->check_batch && (r = ops->check_batch(m, ly, i, batch)) != DST_OK) return r;
    }
    return DST_OK;
}

/* An int8 model refuses what trains (what: for the message). */
static dst_result dst__refuse_q8(dst_model *m, const char *what)
{
    return dst__fail(m, DST_ERR_UNSUPPORTED, "%s: an int8 model (dst_model_quantize) cannot be trained; train the float "
                     "model and quantize it again", what);
}

/* whether an int8 model's layer runs in float, between a dequantize and a
   quantize: a kind with no integer forward, or a weighted one left without
   integer weights (rows too long) */
static int dst__q8_in_float(const dst__layer *ly)
{
    const dst__layer_ops *ops = dst__ops(ly);
    return !(ops->forward_q8 && (ly->q_w || !(ops->flags & DST__KIND_FOLDS_BATCHNORM)));
}

/* An int8 model's forward (inference only): the input quantized into
   dbuf[1], then each layer's integer forward, or its float one between a
   dequantize (into dbuf[0]) and a quantize. The output comes back in
   float: the last layer's own (a layer with integer weights, or a float
   one) or its uint8 dequantized, in dlogits. */
static const float *dst__q8_forward(dst_model *m, const float *x, int batch)
{
    uint8_t *q = (uint8_t *)(void *)m->dbuf[1];
    const uint8_t *cur = q;
    float in_scale = m->q_in_scale;
    int32_t in_zero = m->q_in_zero;
    int i;
    dst__q8_quantize(x, m->in_size * (size_t)batch, in_scale, in_zero, q);
    for (i = 0; i < m->layer_count; ++i) {
        dst__layer *ly = &m->layers[i];
        const dst__layer_ops *ops = dst__ops(ly);
        float *last = i + 1 == m->layer_count ? m->dlogits : NULL;
        if (!dst__q8_in_float(ly)) {
            if (!(cur = ops->forward_q8(m, ly, cur, batch, last))) return last;
        } else {
            const float *y;
            dst__q8_dequantize(cur, ly->in_size * (size_t)batch, in_scale, in_zero, m->dbuf[0]);
            y = ops->forward(m, ly, m->dbuf[0], batch, 0);
            if (last) return y;
            /* in place when y is ly->out: byte j is written after float j is read */
            dst__q8_quantize(y, ly->out_size * (size_t)batch, ly->q_scale, ly->q_zero, (uint8_t *)(void *)ly->out);
            cur = (const uint8_t *)(void *)ly->out;
        }
        in_scale = ly->q_scale;
        in_zero = ly->q_zero;
    }
    dst__q8_dequantize(cur, m->out_size * (size_t)batch, in_scale, in_zero, m->dlogits);
    return m->dlogits;
}

DSTDEF dst_result dst_model_forward(dst_model *m, const float *x, int batch, int training, const float **out)
{
    int i;
    dst_result r;
    if (!m) return DST_ERR_ARG;
    if (m->q8 && training) return dst__refuse_q8(m, "forward with training = 1");
    if (!dst__batch_ok(m, x, batch, &r)) return r;
    if (m->q8) {
        m->input = x;
        m->batch = batch;
        m->trained_forward = 0;
        x = dst__q8_forward(m, x, batch);
        if (out) *out = x;
        return DST_OK;
    }
    if (training && (r = dst__layers_batch_ok(m, batch)) != DST_OK) return r;
    if (training && (r = dst__model_own(m)) != DST_OK) return r;
    if (DST__QAT(m) && (r = dst__qat_begin(m, &x, batch, training)) != DST_OK) return r;
    m->input = x;
    m->batch = batch;
    for (i = 0; i < m->layer_count; ++i) {
        dst__layer *ly = &m->layers[i];
        x = dst__ops(ly)->forward(m, ly, x, batch, training);
        if (DST__QAT(m)) dst__qat_tensor(m, i + 1, x, batch, training);
    }
    if (DST__QAT(m) && !training) dst__qat_restore(m);
    m->trained_forward = training ? 1 : 0;
    if (out) *out = x;
    return DST_OK;
}

#ifndef DST_INFERENCE_ONLY /* backward: not in an inference-only build */
/* Gradients to add on the way down: grad[k] (batch x that layer's output)
   joins d loss / d output of layer at[k] before that layer's backward (the
   feature terms of distillation, see dst__features). */
typedef struct dst__inject {
    int count;
    const int *at;
    float *const *grad;
    const size_t *size; /* floats per sample */
} dst__inject;

static dst_result dst__backward(dst_model *m, const float *d_output, const dst__inject *inj)
{
    int i, k, batch, turn = 0;
    const float *dy = d_output;
    if (!m) return DST_ERR_ARG;
    if (m->q8) return dst__refuse_q8(m, "backward");
    if (!d_output) return dst__fail(m, DST_ERR_ARG, "d_output is NULL");
    if (!m->trained_forward)
        return dst__fail(m, DST_ERR_ARG, "backward needs a training forward (training = 1) just before it");
    batch = m->batch;
    for (i = m->layer_count - 1; i >= 0; --i) {
        dst__layer *ly = &m->layers[i];
        const float *x = i ? m->layers[i - 1].out : m->input;
        float *dx = i ? m->dbuf[turn] : NULL;
        const float *dx_at;
        for (k = 0; inj && k < inj->count; ++k)
            if (inj->at[k] == i) { /* dy is the model's own buffer here (m->dlogits or a dbuf) */
                size_t j, n = (size_t)batch * inj->size[k];
                float *d = (float *)(uintptr_t)dy;
                for (j = 0; j < n; ++j) d[j] += inj->grad[k][j];
            }
        if (m->qat) dst__qat_mask(m, i + 1, (float *)(uintptr_t)dy);
        dx_at = dst__ops(ly)->backward(m, ly, x, dy, dx, batch);
        if (dx_at != dy) turn ^= 1; /* else dy passed through as it is: the buffers do not turn */
        dy = dx_at;
    }
    dst__qat_restore(m);
    return DST_OK;
}

DSTDEF dst_result dst_model_backward(dst_model *m, const float *d_output)
{
    return dst__backward(m, d_output, NULL);
}

#endif

DSTDEF dst_result dst_model_predict(dst_model *m, const float *x, size_t count, float *out)
{
    size_t done = 0;
    dst_result r;
    if (!m) return DST_ERR_ARG;
    if (!x || !out) return dst__fail(m, DST_ERR_ARG, "x or out is NULL");
    if (m->ws_batch < 1 && (r = dst_model_reserve(m, count < 256 ? (int)(count ? count : 1) : 256)) != DST_OK)
        return r;
    dst__qat_hold(m, 1);
    for (r = DST_OK; done < count; done += (size_t)m->ws_batch) {
        int b = (int)(count - done < (size_t)m->ws_batch ? count - done : (size_t)m->ws_batch);
        const float *y;
        if ((r = dst_model_forward(m, x + done * m->in_size, b, 0, &y)) != DST_OK) break;
        memcpy(out + done * m->out_size, y, (size_t)b * m->out_size * sizeof(float));
    }
    dst__qat_hold(m, 0);
    return r;
}

static int dst__argmax(const float *v, size_t n)
{
    size_t j, best = 0;
    for (j = 1; j < n; ++j) if (v[j] > v[best]) best = j;
    return (int)best;
}

/* Every label a class; with none_ok (a teacher gives the soft targets), a
   label may also be DST_NO_LABEL. */
static dst_result dst__labels_ok(dst_model *m, const int *labels, size_t count, int none_ok)
{
    size_t i;
    for (i = 0; i < count; ++i)
        if ((labels[i] < 0 || (size_t)labels[i] >= m->out_size) && !(none_ok && labels[i] == DST_NO_LABEL))
            return dst__fail(m, DST_ERR_ARG, "label %d of sample %lu is outside [0, %lu)",
                             labels[i], (unsigned long)i, (unsigned long)m->out_size);
    return DST_OK;
}

DSTDEF dst_result dst_model_evaluate(dst_model *m, const float *x, const int *labels, size_t count,
                                     int batch, float *loss, float *accuracy)
{
    size_t done = 0, correct = 0;
    double total = 0;
    dst_result r;
    if (!m) return DST_ERR_ARG;
    if (!x || !labels || count == 0) return dst__fail(m, DST_ERR_ARG, "evaluate needs x, labels and count >= 1");
    if (batch <= 0) batch = 256;
    if ((r = dst__labels_ok(m, labels, count, 0)) != DST_OK) return r;
    dst__qat_hold(m, 1);
    for (r = DST_OK; done < count; done += (size_t)batch) {
        int b = (int)(count - done < (size_t)batch ? count - done : (size_t)batch), i;
        const float *y;
        if ((r = dst_model_forward(m, x + done * m->in_size, b, 0, &y)) != DST_OK) break;
        total += (double)dst__kd_loss_scratch(y, NULL, labels + done, NULL, b, (int)m->out_size, 1, 0, NULL, m->scratch) * b;
        for (i = 0; i < b; ++i)
            if (dst__argmax(y + (size_t)i * m->out_size, m->out_size) == labels[done + (size_t)i]) ++correct;
    }
    dst__qat_hold(m, 0);
    if (r != DST_OK) return r;
    if (loss) *loss = (float)(total / (double)count);
    if (accuracy) *accuracy = (float)((double)correct / (double)count);
    return DST_OK;
}

/* ==== int8 models: calibration and quantization ============== >>quantize
   dst_model_quantize folds the batch norms (dst_model_fold_batchnorm),
   runs the calibration samples through the float copy to find each
   tensor's range, then gives that copy integer weights and the ranges:
   it becomes the int8 model. A tensor gets its own range when its layer
   changes the scale (integer weights, or a layer that runs in float);
   the DST__KIND_Q8_SAME_SCALE kinds keep their input's. */

DSTDEF dst_quantize_options dst_quantize_default(void)
{
    dst_quantize_options o;
    memset(&o, 0, sizeof o);
    o.calibration = DST_CALIBRATE_MSE;
    o.percentile = 99.99f;
    return o;
}

DSTDEF int dst_model_is_quantized(const dst_model *m) { return m && m->q8; }

/* whether a layer's output gets a range of its own */
static int dst__q8_ranged(const dst__layer *ly) { return !(dst__ops(ly)->flags & DST__KIND_Q8_SAME_SCALE); }

/* whether a layer gets integer weights: a kind with weight [units][k] and
   an integer forward, rows short enough for int32 sums (see >>int8) */
static int dst__q8_weighted(const dst__layer *ly)
{
    const dst__layer_ops *ops = dst__ops(ly);
    return ops->forward_q8 && (ops->flags & DST__KIND_FOLDS_BATCHNORM) &&
           ly->weight_count / (size_t)ly->desc.units <= DST__Q8_MAX_K;
}

#define DST__Q8_BINS 2048

/* What calibration learns of one tensor: tensor 0 is the model's input,
   tensor i + 1 layer i's output. */
typedef struct dst__q8_range {
    double lo, hi;
    uint64_t *hist; /* DST__Q8_BINS counts over [lo, hi] (the percentile pass) */
} dst__q8_range;

/* the ranges of m's quantization-aware training (DST_CALIBRATE_TRAINED), or
   NULL when it has none (it is off, or no training step has taken place) */
#ifndef DST_INFERENCE_ONLY
static const dst__q8_range *dst__qat_ranges(const dst_model *m);
#else
#define dst__qat_ranges(m) NULL
#endif

/* the values of tensor t of the batch just run (x: the input) */
static const float *dst__q8_values(const dst_model *f, int t, const float *x, int batch, size_t *n)
{
    const dst__layer *ly = t ? &f->layers[t - 1] : NULL;
    *n = (ly ? ly->out_size : f->in_size) * (size_t)batch;
    return ly ? ly->out : x;
}

/* one calibration pass over every ranged tensor: min and max (pass 0) or
   the histogram (pass 1) */
static dst_result dst__q8_observe(dst_model *f, const float *x, size_t count, int batch, int pass, dst__q8_range *rg,
                                  dst_error *err)
{
    size_t done, i, n;
    int t;
    dst_result r;
    for (done = 0; done < count; done += (size_t)batch) {
        int b = (int)(count - done < (size_t)batch ? count - done : (size_t)batch);
        const float *xb = x + done * f->in_size;
        if ((r = dst_model_forward(f, xb, b, 0, NULL)) != DST_OK) return dst__err(err, r, "calibration: %s", f->error);
        for (t = 0; t <= f->layer_count; ++t) {
            const float *v;
            dst__q8_range *q = &rg[t];
            if (t && !dst__q8_ranged(&f->layers[t - 1])) continue;
            v = dst__q8_values(f, t, xb, b, &n);
            for (i = 0; i < n; ++i) {
                if (!dst__finite(v[i]))
                    return dst__err(err, DST_ERR_ARG, "calibration: sample %lu gives a non-finite value %s",
                                    (unsigned long)(done + i / (n / (size_t)b)), t ? "in a layer's output" : "as input");
                if (pass == 0) {
                    if ((double)v[i] < q->lo) q->lo = (double)v[i];
                    if ((double)v[i] > q->hi) q->hi = (double)v[i];
                } else if (q->hi > q->lo) {
                    double at = ((double)v[i] - q->lo) / (q->hi - q->lo) * DST__Q8_BINS;
                    int bin = at >= DST__Q8_BINS ? DST__Q8_BINS - 1 : at < 0 ? 0 : (int)at;
                    q->hist[bin]++;
                }
            }
        }
    }
    return DST_OK;
}

/* the range that keeps pct % of the histogram's values: (100 - pct) / 2 %
   cut at each end */
static void dst__q8_percentile(dst__q8_range *q, float pct)
{
    uint64_t total = 0, seen = 0, cut;
    double width = (q->hi - q->lo) / DST__Q8_BINS;
    int b, lo = 0, hi = DST__Q8_BINS - 1;
    for (b = 0; b < DST__Q8_BINS; ++b) total += q->hist[b];
    cut = (uint64_t)((double)total * (100.0 - (double)pct) / 200.0);
    for (b = 0; b < DST__Q8_BINS; ++b) { seen += q->hist[b]; if (seen > cut) { lo = b; break; } }
    for (seen = 0, b = DST__Q8_BINS - 1; b >= 0; --b) { seen += q->hist[b]; if (seen > cut) { hi = b; break; } }
    q->hi = q->lo + (hi + 1) * width;
    q->lo = q->lo + lo * width;
}

/* scale and zero point of a range (widened to hold 0, so that a real 0
   - padding, ReLU - is exact) */
static void dst__q8_params(const dst__q8_range *q, float *scale, int32_t *zero)
{
    double lo = q->lo < 0 ? q->lo : 0, hi = q->hi > 0 ? q->hi : 0, s = (hi - lo) / 255.0, z;
    if (!(s > 1e-30)) s = 1.0; /* a tensor that is always 0 */
    z = floor(-lo / s + 0.5);
    *scale = (float)s;
    *zero = z < 0 ? 0 : z > 255 ? 255 : (int32_t)z;
}

/* DST_CALIBRATE_MSE: the range, among those that cut whole steps of
   DST__Q8_BINS / 512 bins off either end of the histogram's [lo, hi] (the
   end with fewer values first), whose quantization gives the histogram's
   values the least expected squared error: s^2 / 12 for a value inside (the
   rounding of a uniform error), its distance to the range's end squared for
   a value outside (clipped), a value taken at its bin's centre. */
static double dst__q8_mse_error(const dst__q8_range *q, double lo, double hi)
{
    dst__q8_range cut;
    float scale;
    int32_t zero;
    double width = (q->hi - q->lo) / DST__Q8_BINS, s, a, b, e = 0;
    int i;
    cut.lo = lo;
    cut.hi = hi;
    dst__q8_params(&cut, &scale, &zero);
    s = (double)scale;
    a = s * (0 - zero); /* the range as quantized: [a, b] */
    b = s * (255 - zero);
    for (i = 0; i < DST__Q8_BINS; ++i) {
        double x = q->lo + (i + 0.5) * width, n = (double)q->hist[i];
        if (!q->hist[i]) continue;
        e += n * (x < a ? (a - x) * (a - x) : x > b ? (x - b) * (x - b) : s * s / 12);
    }
    return e;
}

static void dst__q8_mse(dst__q8_range *q)
{
    int lo = 0, hi = DST__Q8_BINS, step = DST__Q8_BINS / 512, best_lo = 0, best_hi = DST__Q8_BINS, i;
    double width = (q->hi - q->lo) / DST__Q8_BINS, best = dst__q8_mse_error(q, q->lo, q->hi);
    while (hi - lo > step) {
        uint64_t low = 0, high = 0;
        double e;
        for (i = 0; i < step; ++i) { low += q->hist[lo + i]; high += q->hist[hi - 1 - i]; }
        if (low < high) lo += step;
        else hi -= step;
        e = dst__q8_mse_error(q, q->lo + lo * width, q->lo + hi * width);
        if (e < best) { best = e; best_lo = lo; best_hi = hi; }
    }
    q->hi = q->lo + best_hi * width;
    q->lo = q->lo + best_lo * width;
}

/* |bias| of an int8 layer, in in_scale x w_scale units: with |zero x row
   sum| <= 255 x 127 x DST__Q8_MAX_K, an int32 holds both */
#define DST__Q8_MAX_BIAS 536870912

/* an output channel's weight scale: max |w| / 127 over its row (1 for a
   row of zeros) */
static float dst__q8_row_scale(const float *row, size_t k)
{
    float amax = 0;
    size_t i;
    for (i = 0; i < k; ++i) if (fabsf(row[i]) > amax) amax = fabsf(row[i]);
    return amax > 0 ? (float)((double)amax / 127.0) : 1.0f;
}

/* a weight's int8 value at its row's scale: rounded half up, in [-127, 127] */
static int8_t dst__q8_weight(float w, float scale)
{
    double v = floor((double)w / (double)scale + 0.5);
    return (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
}

/* Layer ly's integer weights from its float ones, per output channel
   (dst__q8_row_scale, dst__q8_weight); the bias in the scale in_scale x
   w_scale (q_b; 0 without a bias). */
static void dst__q8_weights(dst__layer *ly, const float *params, float in_scale)
{
    size_t units = (size_t)ly->desc.units, k = ly->weight_count / units, o, i;
    const float *w = params + ly->param_offset, *b = ly->bias_count ? w + ly->weight_count : NULL;
    for (o = 0; o < units; ++o) {
        const float *row = w + o * k;
        double sw, bq = 0;
        ly->q_w_scale[o] = dst__q8_row_scale(row, k);
        sw = (double)ly->q_w_scale[o];
        for (i = 0; i < k; ++i) ly->q_w[o * k + i] = dst__q8_weight(row[i], ly->q_w_scale[o]);
        if (b) {
            bq = floor((double)b[o] / ((double)in_scale * sw) + 0.5);
            if (bq > DST__Q8_MAX_BIAS) bq = DST__Q8_MAX_BIAS;
            if (bq < -DST__Q8_MAX_BIAS) bq = -DST__Q8_MAX_BIAS;
        }
        ly->q_b[o] = (int32_t)bq;
    }
}

/* From an int8 layer's integers (q_w, q_w_scale, q_b: dst__q8_weights or
   the weight file): what its forward uses (q_bias with the input's zero
   point folded in, q_mult), and its float parameters, the dequantized
   ones (what the integers compute). */
static void dst__q8_weights_finish(dst__layer *ly, float *params, float in_scale, int32_t in_zero)
{
    size_t units = (size_t)ly->desc.units, k = ly->weight_count / units, o, i;
    float *w = params + ly->param_offset, *b = ly->bias_count ? w + ly->weight_count : NULL;
    for (o = 0; o < units; ++o) {
        const int8_t *q = ly->q_w + o * k;
        double sw = (double)ly->q_w_scale[o];
        int64_t sum = 0;
        for (i = 0; i < k; ++i) {
            sum += q[i];
            w[o * k + i] = (float)(q[i] * sw);
        }
        if (b) b[o] = (float)(ly->q_b[o] * (double)in_scale * sw);
        ly->q_bias[o] = (int32_t)((int64_t)ly->q_b[o] - (int64_t)in_zero * sum);
        ly->q_mult[o] = (float)((double)in_scale * sw / (double)ly->q_scale);
    }
}

/* the block behind every layer's q_w, q_w_scale, q_mult, q_b, q_bias and the
   model's q_acc, in that order, each slice 16-byte aligned */
static size_t dst__q8_block_bytes(const dst_model *f)
{
    size_t bytes = 0, most = 1;
    int i;
    for (i = 0; i < f->layer_count; ++i) {
        const dst__layer *ly = &f->layers[i];
        size_t u = (size_t)ly->desc.units;
        if (!dst__q8_weighted(ly)) continue;
        bytes += ((ly->weight_count + 15) & ~(size_t)15) + 4 * ((u * 4 + 15) & ~(size_t)15);
        if (u > most) most = u;
    }
    return bytes + most * 4;
}

static void dst__q8_block_carve(dst_model *f)
{
    unsigned char *p = (unsigned char *)f->q_block;
    size_t most = 1;
    int i;
    for (i = 0; i < f->layer_count; ++i) {
        dst__layer *ly = &f->layers[i];
        size_t u = (size_t)ly->desc.units, ub = (u * 4 + 15) & ~(size_t)15;
        if (!dst__q8_weighted(ly)) continue;
        ly->q_w = (int8_t *)(void *)p; p += (ly->weight_count + 15) & ~(size_t)15;
        ly->q_w_scale = (float *)(void *)p; p += ub;
        ly->q_mult = (float *)(void *)p; p += ub;
        ly->q_b = (int32_t *)(void *)p; p += ub;
        ly->q_bias = (int32_t *)(void *)p; p += ub;
        if (u > most) most = u;
    }
    f->q_acc = (int32_t *)(void *)p;
}

/* The int8 block of f (q_w, ... of the weighted layers, dst__q8_block_carve),
   zeroed: a layer without a bias has q_b 0 (the loader reads no bias for it) */
static dst_result dst__q8_alloc(dst_model *f, dst_error *err)
{
    size_t bytes = dst__q8_block_bytes(f);
    if (!(f->q_block = DST_MALLOC(bytes, f->alloc_user)))
        return dst__err(err, DST_ERR_NOMEM, "int8 weights");
    memset(f->q_block, 0, bytes);
    dst__q8_block_carve(f);
    return DST_OK;
}

/* Makes f an int8 model once every scale and zero point is set and the
   weighted layers hold their integers: the rest of what their forward
   uses, the SAME_SCALE layers' scales, and the workspace sized again (the
   convolutions' patches live in col). */
static void dst__q8_finish(dst_model *f)
{
    float in_scale = f->q_in_scale;
    int32_t in_zero = f->q_in_zero;
    int i;
    for (i = 0; i < f->layer_count; ++i) {
        dst__layer *ly = &f->layers[i];
        ly->q_in_zero = in_zero;
        if (!dst__q8_ranged(ly)) { ly->q_scale = in_scale; ly->q_zero = in_zero; }
        if (ly->q_w) {
            dst__q8_weights_finish(ly, f->params, in_scale, in_zero);
            if (ly->desc.kind == DST_LAYER_CONV2D) {
                dst_conv2d_params p = dst__conv_params_of(ly);
                size_t pad_at, bytes = dst__q8_col_bytes(&p, &pad_at);
                if ((bytes + 3) / 4 > f->col_floats) f->col_floats = (bytes + 3) / 4;
            }
        }
        in_scale = ly->q_scale;
        in_zero = ly->q_zero;
    }
    dst__model_release_workspace(f);
    f->q8 = 1;
}

/* Makes the calibrated float model f an int8 one: the ranges become scales
   and zero points, the weighted layers get their integers. */
static dst_result dst__q8_make(dst_model *f, const dst__q8_range *rg, dst_error *err)
{
    float in_scale;
    dst_result r;
    int i;
    if ((r = dst__q8_alloc(f, err)) != DST_OK) return r;
    dst__q8_params(&rg[0], &f->q_in_scale, &f->q_in_zero);
    in_scale = f->q_in_scale;
    for (i = 0; i < f->layer_count; ++i) {
        dst__layer *ly = &f->layers[i];
        if (dst__q8_ranged(ly)) dst__q8_params(&rg[i + 1], &ly->q_scale, &ly->q_zero);
        else ly->q_scale = in_scale;
        if (ly->q_w) dst__q8_weights(ly, f->params, in_scale);
        in_scale = ly->q_scale;
    }
    dst__q8_finish(f);
    return DST_OK;
}

DSTDEF dst_result dst_model_quantize(const dst_model *m, const float *calib_x, size_t calib_count,
                                     const dst_quantize_options *opt, dst_model **out, dst_error *err)
{
    dst_quantize_options o = opt ? *opt : dst_quantize_default();
    const dst__q8_range *trained = NULL;
    dst__q8_range *rg = NULL;
    uint64_t *hist = NULL;
    dst_model *f = NULL;
    dst_result r;
    int t, batch;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    *out = NULL;
    if (!m) return dst__err(err, DST_ERR_ARG, "model is NULL");
    if ((unsigned)o.calibration > (unsigned)DST_CALIBRATE_MSE)
        return dst__err(err, DST_ERR_ARG, "calibration %d: not a dst_calibration", (int)o.calibration);
    if (o.calibration != DST_CALIBRATE_TRAINED && (!calib_x || calib_count < 1))
        return dst__err(err, DST_ERR_ARG, "quantize needs calibration samples");
    if (m->q8) return dst__err(err, DST_ERR_ARG, "the model is int8 already");
    if (o.calibration == DST_CALIBRATE_TRAINED && !(trained = dst__qat_ranges(m)))
        return dst__err(err, DST_ERR_ARG, "calibration TRAINED: the model has no ranges of quantization-aware training "
                        "(dst_model_set_quant_aware, then at least one training step)");
    if (o.calibration == DST_CALIBRATE_PERCENTILE && !(o.percentile > 50 && o.percentile <= 100))
        return dst__err(err, DST_ERR_ARG, "percentile %g: must be in (50, 100]", (double)o.percentile);
    if (o.batch < 0) return dst__err(err, DST_ERR_ARG, "batch %d: must be >= 0", o.batch);
    batch = o.batch ? o.batch : 256;
    if ((r = dst_model_fold_batchnorm(m, &f, err)) != DST_OK) return r;
    rg = (dst__q8_range *)DST_MALLOC(sizeof *rg * ((size_t)f->layer_count + 1), f->alloc_user);
    if (!rg) { r = dst__err(err, DST_ERR_NOMEM, "calibration ranges"); goto done; }
    for (t = 0; t <= f->layer_count; ++t) { rg[t].lo = DBL_MAX; rg[t].hi = -DBL_MAX; rg[t].hist = NULL; }
    if (trained) /* m has no batch norms (set_quant_aware refuses them): f's layers are m's */
        memcpy(rg, trained, sizeof *rg * ((size_t)f->layer_count + 1));
    else if ((r = dst__q8_observe(f, calib_x, calib_count, batch, 0, rg, err)) != DST_OK)
        goto done;
    if (o.calibration == DST_CALIBRATE_PERCENTILE || o.calibration == DST_CALIBRATE_MSE) {
        size_t bins = (size_t)DST__Q8_BINS * ((size_t)f->layer_count + 1);
        if (!(hist = (uint64_t *)DST_MALLOC(bins * sizeof *hist, f->alloc_user))) {
            r = dst__err(err, DST_ERR_NOMEM, "calibration histograms");
            goto done;
        }
        memset(hist, 0, bins * sizeof *hist);
        for (t = 0; t <= f->layer_count; ++t) rg[t].hist = hist + (size_t)t * DST__Q8_BINS;
        if ((r = dst__q8_observe(f, calib_x, calib_count, batch, 1, rg, err)) != DST_OK) goto done;
        for (t = 0; t <= f->layer_count; ++t)
            if (rg[t].hi > rg[t].lo) {
                if (o.calibration == DST_CALIBRATE_MSE) dst__q8_mse(&rg[t]);
                else dst__q8_percentile(&rg[t], o.percentile);
            }
    }
    r = dst__q8_make(f, rg, err);
done:
    DST_FREE(hist, f->alloc_user);
    DST_FREE(rg, f->alloc_user);
    if (r != DST_OK) { dst_model_free(f); return r; }
    *out = f;
    return DST_OK;
}

DSTDEF dst_result dst_model_layer_int8(const dst_model *m, int index, dst_layer_int8 *q)
{
    const dst__layer *ly;
    if (!m || !m->q8 || !q || index < 0 || index >= m->layer_count) return DST_ERR_ARG;
    ly = &m->layers[index];
    memset(q, 0, sizeof *q);
    q->in_scale = index ? m->layers[index - 1].q_scale : m->q_in_scale;
    q->in_zero = index ? m->layers[index - 1].q_zero : m->q_in_zero;
    q->out_scale = ly->q_scale;
    q->out_zero = ly->q_zero;
    q->in_float = dst__q8_in_float(ly);
    q->relu_fused = ly->relu_fused;
    if (ly->q_w) {
        q->weight = ly->q_w;
        q->weight_scale = ly->q_w_scale;
        q->bias = ly->q_bias;
        q->multiplier = ly->q_mult;
    }
    return DST_OK;
}

#ifndef DST_INFERENCE_ONLY /* quantization-aware training */
/* ---- quantization-aware training (dst_model_set_quant_aware) ----
   The forward's hooks: dst__qat_begin before the first layer (the weights
   rounded in place, their float values kept in master; the input rounded
   into a copy), dst__qat_tensor after each layer, dst__qat_restore after
   the backward (or after an inference forward): the float weights back, for
   the optimizer to update with the gradients taken at the rounded ones.
   Tensor t as in calibration (0 the input, t layer t - 1's output); a
   training forward notes in keep which values stayed inside their range
   (the backward's mask, dst__qat_mask). */
typedef struct dst__qat {
    dst__q8_range *range;  /* layer_count + 1 tracked ranges (hist NULL) */
    long    seen;          /* training forwards that have updated them */
    float  *master;        /* param_count: the float parameters while params holds the rounded ones */
    int     swapped;       /* 1: params holds the rounded weights */
    int     hold;          /* 1: they stay there after an inference forward (dst__qat_hold) */
    size_t *keep_at;       /* layer_count + 1: tensor t's place in keep, per sample */
    size_t  keep_per;      /* keep bytes per sample */
    unsigned char *keep;   /* cap x keep_per: 1 where a value was inside its range */
    float  *input;         /* cap x in_size: the rounded input */
    int     cap;           /* samples keep and input hold */
} dst__qat;

#define DST__QAT_MOMENTUM 0.01 /* the moving average's weight of a new batch's minimum and maximum */

/* whether tensor t is rounded: the input, and every ranged layer's output but the model's */
static int dst__qat_rounded(const dst_model *m, int t)
{
    return t == 0 || (t < m->layer_count && dst__q8_ranged(&m->layers[t - 1]));
}

static void dst__qat_free(dst_model *m)
{
    dst__qat *q = m->qat;
    if (!q) return;
    DST_FREE(q->range, m->alloc_user);
    DST_FREE(q->master, m->alloc_user);
    DST_FREE(q->keep_at, m->alloc_user);
    DST_FREE(q->keep, m->alloc_user);
    DST_FREE(q->input, m->alloc_user);
    DST_FREE(q, m->alloc_user);
    m->qat = NULL;
}

DSTDEF dst_result dst_model_set_quant_aware(dst_model *m, int on)
{
    dst__qat *q;
    int t;
    if (!m) return DST_ERR_ARG;
    if (m->q8) return dst__refuse_q8(m, "set_quant_aware");
    if (on != 0 && on != 1) return dst__fail(m, DST_ERR_ARG, "set_quant_aware: on is %d, must be 0 or 1", on);
    if (m->qat && m->qat->swapped) memcpy(m->params, m->qat->master, m->param_count * sizeof(float));
    dst__qat_free(m);
    if (!on) return DST_OK;
    if (m->buffer_count)
        return dst__fail(m, DST_ERR_UNSUPPORTED, "set_quant_aware: the model has batch norm statistics; fold the batch "
                         "norms first (dst_model_fold_batchnorm) and train the folded model");
    if (dst__model_own(m) != DST_OK) return DST_ERR_NOMEM;
    if (!(q = (dst__qat *)DST_MALLOC(sizeof *q, m->alloc_user))) return dst__fail(m, DST_ERR_NOMEM, "set_quant_aware");
    memset(q, 0, sizeof *q);
    m->qat = q;
    q->range = (dst__q8_range *)DST_MALLOC(sizeof *q->range * ((size_t)m->layer_count + 1), m->alloc_user);
    q->keep_at = (size_t *)DST_MALLOC(sizeof *q->keep_at * ((size_t)m->layer_count + 1), m->alloc_user);
    q->master = (float *)DST_MALLOC((m->param_count ? m->param_count : 1) * sizeof(float), m->alloc_user);
    if (!q->range || !q->keep_at || !q->master) {
        dst__qat_free(m);
        return dst__fail(m, DST_ERR_NOMEM, "set_quant_aware: %lu parameters", (unsigned long)m->param_count);
    }
    for (t = 0; t <= m->layer_count; ++t) {
        q->range[t].lo = q->range[t].hi = 0;
        q->range[t].hist = NULL;
        q->keep_at[t] = q->keep_per;
        if (t && dst__qat_rounded(m, t)) q->keep_per += m->layers[t - 1].out_size;
    }
    return DST_OK;
}

/* Before a forward of batch samples: the rounded weights into params (once
   until dst__qat_restore), the input rounded into q->input (*x then points
   there), keep sized. */
static dst_result dst__qat_begin(dst_model *m, const float **x, int batch, int training)
{
    dst__qat *q = m->qat;
    int i;
    if (batch > q->cap) {
        void *in = DST_REALLOC(q->input, (size_t)batch * m->in_size * sizeof(float), m->alloc_user), *keep;
        if (in) q->input = (float *)in;
        keep = DST_REALLOC(q->keep, (size_t)batch * (q->keep_per ? q->keep_per : 1), m->alloc_user);
        if (keep) q->keep = (unsigned char *)keep;
        if (!in || !keep) return dst__fail(m, DST_ERR_NOMEM, "quantization-aware forward of %d samples", batch);
        q->cap = batch;
    }
    if (!q->swapped) {
        memcpy(q->master, m->params, m->param_count * sizeof(float));
        for (i = 0; i < m->layer_count; ++i) {
            dst__layer *ly = &m->layers[i];
            size_t units = (size_t)ly->desc.units, k = ly->weight_count / (units ? units : 1), o, j;
            float *w = m->params + ly->param_offset;
            if (!dst__q8_weighted(ly)) continue;
            for (o = 0; o < units; ++o) {
                float scale = dst__q8_row_scale(w + o * k, k);
                for (j = 0; j < k; ++j) w[o * k + j] = scale * (float)dst__q8_weight(w[o * k + j], scale);
            }
        }
        q->swapped = 1;
    }
    if (training) q->seen++;
    memcpy(q->input, *x, (size_t)batch * m->in_size * sizeof(float));
    *x = q->input;
    dst__qat_tensor(m, 0, q->input, batch, training);
    return DST_OK;
}

/* After tensor t of a forward (v: batch samples of it): a training forward
   moves its range towards the batch's, then a rounded tensor gets rounded in
   place, as dst__q8_quantize and dst__q8_dequantize would, and a training
   forward notes which values stayed inside the range. */
static void dst__qat_tensor(dst_model *m, int t, const float *values, int batch, int training)
{
    dst__qat *q = m->qat;
    dst__q8_range *rg = &q->range[t];
    size_t n = (t ? m->layers[t - 1].out_size : m->in_size) * (size_t)batch;
    float *v = (float *)(uintptr_t)values, scale;
    unsigned char *keep = training && t ? q->keep + q->keep_at[t] * (size_t)batch : NULL;
    int32_t zero;
    if (t && !dst__q8_ranged(&m->layers[t - 1])) return;
    if (training) {
        float lo, hi;
        double a = q->seen > 1 ? DST__QAT_MOMENTUM : 1.0;
        dst__kern()->qat_range(v, n, &lo, &hi);
        if (dst__finite(lo) && dst__finite(hi)) { /* a non-finite batch fails its step anyway */
            rg->lo += a * ((double)lo - rg->lo);
            rg->hi += a * ((double)hi - rg->hi);
        }
    }
    if (!dst__qat_rounded(m, t) || (!training && !q->seen)) return;
    dst__q8_params(rg, &scale, &zero);
    dst__kern()->qat_round(v, n, scale, zero, keep);
}

/* The backward's mask at tensor t (dy: d loss / d tensor t): no gradient
   where the training forward clamped a value. */
static void dst__qat_mask(const dst_model *m, int t, float *dy)
{
    const dst__qat *q = m->qat;
    size_t n = m->layers[t - 1].out_size * (size_t)m->batch, j;
    const unsigned char *keep = q->keep + q->keep_at[t] * (size_t)m->batch;
    if (!dst__qat_rounded(m, t)) return;
    for (j = 0; j < n; ++j) if (!keep[j]) dy[j] = 0;
}

static const dst__q8_range *dst__qat_ranges(const dst_model *m) { return m->qat && m->qat->seen ? m->qat->range : NULL; }

/* the float parameters back into params (not while held) */
static void dst__qat_restore(dst_model *m)
{
    if (!m->qat || !m->qat->swapped || m->qat->hold) return;
    memcpy(m->params, m->qat->master, m->param_count * sizeof(float));
    m->qat->swapped = 0;
}

/* on: the rounded weights stay in params from one inference forward to the
   next, rounded once for a whole predict or evaluate call (the caller
   cannot change params in between); off: the float ones back. */
static void dst__qat_hold(dst_model *m, int on)
{
    if (!m->qat) return;
    m->qat->hold = on;
    dst__qat_restore(m);
}
#endif /* DST_INFERENCE_ONLY */

/* ==== training and distillation ================================= >>train */

#ifndef DST_INFERENCE_ONLY /* training and distillation: not in an inference-only build */
DSTDEF dst_result dst_model_set_optimizer(dst_model *m, const dst_optimizer_config *cfg)
{
    dst_error e;
    if (!m) return DST_ERR_ARG;
    if (m->q8) return dst__refuse_q8(m, "set_optimizer");
    if (dst_optimizer_check(cfg, &e) != DST_OK) return dst__fail(m, e.code, "%s", e.message);
    if (dst__model_own(m) != DST_OK) return DST_ERR_NOMEM;
    m->opt = *cfg;
    m->lr = cfg->lr;
    m->has_opt = 1;
    m->step = 0;
    memset(m->state0, 0, 2 * m->param_count * sizeof(float));
    return DST_OK;
}

DSTDEF dst_result dst_model_set_lr(dst_model *m, float lr)
{
    if (!m) return DST_ERR_ARG;
    if (!(lr >= 0) || !dst__finite(lr)) return dst__fail(m, DST_ERR_ARG, "learning rate %g: must be finite and >= 0", (double)lr);
    m->lr = lr;
    return DST_OK;
}

/* 1 when no value is NaN or infinite: x * 0 is 0 for every finite x and NaN
   otherwise. The scalar loop adds those up (NaN anywhere makes the sum NaN);
   the vector one ORs NaN masks, which has no chain of dependent adds. */
static int dst__all_finite_scalar(const float *v, size_t n)
{
    size_t i;
    float acc = 0;
    for (i = 0; i < n; ++i) acc += v[i] * 0.0f;
    return acc == 0.0f;
}

#if defined(DST__V4ISA)
/* dst__all_finite_sse2 / dst__all_finite_neon */
static int DST__V4NAME(dst__all_finite)(const float *v, size_t n)
{
    size_t i = 0;
    dst__v4 z = DST__VSET1(DST__V4ISA, 0.0f), bad0 = z, bad1 = z;
    for (; i + 8 <= n; i += 8) {
        bad0 = DST__VNAN_OR(DST__V4ISA, bad0, DST__VMUL(DST__V4ISA, DST__VLOAD(DST__V4ISA, v + i), z));
        bad1 = DST__VNAN_OR(DST__V4ISA, bad1, DST__VMUL(DST__V4ISA, DST__VLOAD(DST__V4ISA, v + i + 4), z));
    }
    return !DST__VANY(DST__V4ISA, bad0) && !DST__VANY(DST__V4ISA, bad1) && dst__all_finite_scalar(v + i, n - i);
}
#endif

static int dst__all_finite(const float *v, size_t n)
{
    return dst__kern()->all_finite(v, n);
}

/* A step that meets a NaN or infinity leaves the model as it was: the
   training forward has already moved batch norm's running statistics and
   the dropout generator, so they are put back. */
static void dst__undo_forward(dst_model *m, const dst_rng *rng_before)
{
    m->rng = *rng_before;
    if (m->buffer_count) memcpy(m->buffers, m->buffers_saved, m->buffer_count * sizeof(float));
    dst__qat_restore(m);
}

/* A hint term's adapter while fit runs: weight then bias (as dst_hint_loss
   takes them), their gradient and the optimizer's two state arrays, count
   floats each, in one block; its own step count for Adam's bias correction. */
typedef struct dst__adapter {
    float *params, *grads, *state0, *state1;
    size_t count;
    long   step;
} dst__adapter;

/* The feature terms of a distillation step, attention transfer terms then
   hint terms, between layer outputs of the student and of a teacher model
   that has just run forward on the same batch. */
typedef struct dst__features {
    const dst_attention_term *attention;
    const dst_hint_term *hint;
    int attention_count, hint_count, count; /* count: the two together */
    const dst_model *teacher;
    dst__adapter *adapters;    /* one per hint term */
    int *s_at;                 /* where each term's gradient joins: the end of the in-place chain
                                  from its student layer, whose output shares that layer's buffer */
    dst__inject inj;           /* their gradients, at s_at: attention terms, then hint terms */
} dst__features;

/* The terms' loss at the end of a training forward, their gradients into
   f->inj and the adapters' gradients. */
static float dst__features_loss(const dst_model *m, const dst__features *f, int batch)
{
    int k;
    float total = 0;
    for (k = 0; k < f->count; ++k) {
        int hk = k - f->attention_count, sl = hk < 0 ? f->attention[k].student_layer : f->hint[hk].student_layer;
        int tl = hk < 0 ? f->attention[k].teacher_layer : f->hint[hk].teacher_layer;
        /* the requested layers' shapes; their buffers hold the chains' ends */
        const dst__layer *a = &m->layers[sl], *b = &f->teacher->layers[tl];
        memset(f->inj.grad[k], 0, (size_t)batch * f->inj.size[k] * sizeof(float));
        if (hk < 0) {
            total += dst_attention_loss(a->out, a->out_c, a->out_h, a->out_w, b->out, b->out_c, b->out_h, b->out_w,
                                        batch, f->attention[k].weight, f->inj.grad[k]);
        } else {
            const dst__adapter *ad = &f->adapters[hk];
            memset(ad->grads, 0, ad->count * sizeof(float));
            total += dst_hint_loss(a->out, a->out_c, a->out_h, a->out_w, b->out, b->out_c, b->out_h, b->out_w, batch,
                                   ad->params, f->hint[hk].weight, f->inj.grad[k], ad->grads);
        }
    }
    return total;
}

/* 1 when every adapter's gradient is finite. */
static int dst__features_finite(const dst__features *f)
{
    int k;
    for (k = 0; k < f->hint_count; ++k)
        if (!dst__all_finite(f->adapters[k].grads, f->adapters[k].count)) return 0;
    return 1;
}

/* The adapters' update, after the student's: its optimizer settings and lr,
   their own state and step counts. */
static void dst__features_update(const dst_model *m, const dst__features *f)
{
    int k;
    for (k = 0; k < f->hint_count; ++k) {
        dst__adapter *ad = &f->adapters[k];
        ad->step++;
        dst_optimizer_update(&m->opt, m->lr, ad->step, ad->params, ad->grads, ad->state0, ad->state1, ad->count);
    }
}

static dst_result dst__train_step(dst_model *m, const float *x, const int *labels, int batch,
                                  const float *teacher_logits, float temperature, float alpha, float *loss,
                                  const dst__features *f, const dst__mix *mix);

DSTDEF dst_result dst_model_train_step(dst_model *m, const float *x, const int *labels, int batch,
                                       const float *teacher_logits, float temperature, float alpha,
                                       float *loss)
{
    return dst__train_step(m, x, labels, batch, teacher_logits, temperature, alpha, loss, NULL, NULL);
}
/* The finiteness check of the gradients and the optimizer's update on
   threads: blocks of DST__PAR_ELEMS parameters, each done as on one thread. */
typedef struct dst__params_job {
    dst_model *m;
    int update;                       /* 0: check, 1: update */
    int bad[DST__MAX_WORKERS];        /* check: a worker saw a non-finite gradient */
} dst__params_job;

static void dst__params_block(void *ctx, int block, int worker)
{
    dst__params_job *j = (dst__params_job *)ctx;
    dst_model *m = j->m;
    size_t off = (size_t)block * DST__PAR_ELEMS, n = m->param_count - off;
    if (n > DST__PAR_ELEMS) n = DST__PAR_ELEMS;
    if (!j->update) {
        j->bad[worker] |= !dst__all_finite(m->grads + off, n);
        return;
    }
    dst_optimizer_update(&m->opt, m->lr, m->step, m->params + off, m->grads + off, m->state0 ? m->state0 + off : NULL,
                         m->state1 ? m->state1 + off : NULL, n);
}

/* update 0: 1 when every gradient is finite; 1: the update (returns 1). */
static int dst__par_params(dst_model *m, int update)
{
    dst__params_job j;
    size_t blocks = (m->param_count + DST__PAR_ELEMS - 1) / DST__PAR_ELEMS;
    int w, workers, bad = 0;
    if (blocks == 0) return 1;
    j.m = m;
    j.update = update;
    if (blocks > (size_t)1 << 20) { /* (beyond any model: one block, on this thread) */
        if (!update) return dst__all_finite(m->grads, m->param_count);
        dst_optimizer_update(&m->opt, m->lr, m->step, m->params, m->grads, m->state0, m->state1, m->param_count);
        return 1;
    }
    workers = dst__par_workers_for(&m->threads, (int)blocks, DST__PAR_ELEMS, m->npacks);
    for (w = 0; w < workers; ++w) j.bad[w] = 0;
    dst__par_for(&m->threads, workers, (int)blocks, dst__params_block, &j);
    for (w = 0; w < workers; ++w) bad |= j.bad[w];
    return !bad;
}


/* mix (may be NULL): mixup's second labels and weights, checked by the caller. */
static dst_result dst__train_step(dst_model *m, const float *x, const int *labels, int batch,
                                  const float *teacher_logits, float temperature, float alpha, float *loss,
                                  const dst__features *f, const dst__mix *mix)
{
    const float *y;
    float l;
    dst_result r;
    dst_rng rng_before;
    int k;
    if (!m) return DST_ERR_ARG;
    if (m->q8) return dst__refuse_q8(m, "train step");
    k = (int)m->out_size;
    if (!labels && !teacher_logits) return dst__fail(m, DST_ERR_ARG, "a train step needs labels, teacher logits or both");
    if (teacher_logits && !(temperature > 0 && dst__finite(temperature)))
        return dst__fail(m, DST_ERR_ARG, "temperature %g: must be finite and > 0", (double)temperature);
    if (teacher_logits && labels && !(alpha >= 0 && alpha <= 1))
        return dst__fail(m, DST_ERR_ARG, "alpha %g: must be in [0, 1]", (double)alpha);
    if (batch < 1) return dst__fail(m, DST_ERR_ARG, "batch %d: must be >= 1", batch);
    if (labels && (r = dst__labels_ok(m, labels, (size_t)batch, teacher_logits != NULL)) != DST_OK) return r;
    if ((r = dst__model_own(m)) != DST_OK) return r; /* a model loaded in place trains on a copy */
    rng_before = m->rng;
    if (m->buffer_count) memcpy(m->buffers_saved, m->buffers, m->buffer_count * sizeof(float));
    if ((r = dst_model_forward(m, x, batch, 1, &y)) != DST_OK) return r;
    l = dst__kd_loss_scratch(y, teacher_logits, labels, labels ? mix : NULL, batch, k, temperature, alpha,
                             m->dlogits, m->scratch);
    if (f) l += dst__features_loss(m, f, batch);
    if (loss) *loss = l;
    if (!dst__finite(l)) {
        dst__undo_forward(m, &rng_before);
        return dst__fail(m, DST_ERR_NONFINITE, "loss is %g at step %ld: parameters not updated", (double)l, m->step + 1);
    }
    if ((r = dst__backward(m, m->dlogits, f ? &f->inj : NULL)) != DST_OK) return r;
    if (m->opt.clip_norm > 0) {
        float norm = dst_clip_grad_norm(m->grads, m->param_count, m->opt.clip_norm);
        if (!dst__finite(norm)) {
            dst__undo_forward(m, &rng_before);
            return dst__fail(m, DST_ERR_NONFINITE, "gradient norm is %g at step %ld: parameters not updated",
                             (double)norm, m->step + 1);
        }
    } else if (!dst__par_params(m, 0)) {
        dst__undo_forward(m, &rng_before);
        return dst__fail(m, DST_ERR_NONFINITE, "non-finite gradient at step %ld: parameters not updated", m->step + 1);
    }
    if (f && !dst__features_finite(f)) {
        dst__undo_forward(m, &rng_before);
        return dst__fail(m, DST_ERR_NONFINITE, "non-finite hint adapter gradient at step %ld: parameters not updated",
                         m->step + 1);
    }
    m->step++;
    dst__par_params(m, 1);
    if (f) dst__features_update(m, f);
    return DST_OK;
}

DSTDEF dst_teacher dst_teacher_model(dst_model *teacher)
{
    dst_teacher t;
    memset(&t, 0, sizeof t);
    t.model = teacher;
    t.classes = teacher ? (int)teacher->out_size : 0;
    return t;
}

DSTDEF dst_teacher dst_teacher_logits(const float *logits, size_t rows, int classes)
{
    dst_teacher t;
    memset(&t, 0, sizeof t);
    t.logits = logits;
    t.logits_rows = rows;
    t.classes = classes;
    return t;
}

DSTDEF dst_teacher dst_teacher_callback(dst_teacher_fn fn, void *user, int classes)
{
    dst_teacher t;
    memset(&t, 0, sizeof t);
    t.fn = fn;
    t.user = user;
    t.classes = classes;
    return t;
}

DSTDEF dst_teacher dst_teacher_ensemble(const dst_teacher *members, const float *weights, int count,
                                        float temperature)
{
    dst_teacher t;
    memset(&t, 0, sizeof t);
    t.members = members;
    t.weights = weights;
    t.member_count = count;
    t.temperature = temperature;
    t.classes = members && count > 0 ? members[0].classes : 0;
    return t;
}

/* The teachers that give logits: an ensemble's members, or t itself. */
static int dst__teacher_leaves(const dst_teacher *t) { return t->members ? t->member_count : 1; }
static const dst_teacher *dst__teacher_leaf(const dst_teacher *t, int i) { return t->members ? &t->members[i] : t; }

/* 1 when m is t's model or one of its members'. */
static int dst__teacher_is(const dst_teacher *t, const dst_model *m)
{
    int i;
    for (i = 0; i < dst__teacher_leaves(t); ++i)
        if (dst__teacher_leaf(t, i)->model == m) return 1;
    return 0;
}

static dst_result dst__teacher_batch(const dst_teacher *t, const float *x, const size_t *indices, int batch,
                                     float *out, dst_error *err);

/* An ensemble's logits, T log p with p = sum_i w_i softmax(t_i / T) / sum w:
   each member's log-probabilities plus log(w_i / sum w), summed in
   probability as a running log-sum-exp (finite whatever the logits). */
static dst_result dst__ensemble_batch(const dst_teacher *t, const float *x, const size_t *indices, int batch,
                                      float *out, dst_error *err)
{
    size_t n = (size_t)batch * (size_t)t->classes, row;
    float *one, inv_t = 1.0f / t->temperature;
    double wsum = 0;
    int i, j, started = 0, cols = t->classes;
    dst_result r;
    if (t->member_count == 1) return dst__teacher_batch(&t->members[0], x, indices, batch, out, err);
    for (i = 0; i < t->member_count; ++i) wsum += t->weights ? (double)t->weights[i] : 1.0;
    if (!(one = (float *)DST_MALLOC(n * sizeof(float), NULL)))
        return dst__err(err, DST_ERR_NOMEM, "an ensemble's member logits (%lu floats)", (unsigned long)n);
    for (i = 0; i < t->member_count; ++i) {
        double logw = log((t->weights ? (double)t->weights[i] : 1.0) / wsum);
        if (t->weights && t->weights[i] == 0) continue;
        if ((r = dst__teacher_batch(&t->members[i], x, indices, batch, one, err)) != DST_OK) {
            DST_FREE(one, NULL);
            return r;
        }
        for (row = 0; row < (size_t)batch; ++row) {
            const float *z = one + row * (size_t)cols;
            float *acc = out + row * (size_t)cols, mx = z[0] * inv_t;
            double sum = 0, lse;
            for (j = 1; j < cols; ++j) if (z[j] * inv_t > mx) mx = z[j] * inv_t;
            for (j = 0; j < cols; ++j) sum += exp((double)(z[j] * inv_t - mx));
            lse = (double)mx + log(sum);
            for (j = 0; j < cols; ++j) {
                double v = (double)(z[j] * inv_t) - lse + logw, a = (double)acc[j];
                acc[j] = (float)(!started ? v : a > v ? a + log1p(exp(v - a)) : v + log1p(exp(a - v)));
            }
        }
        started = 1;
    }
    for (row = 0; row < n; ++row) out[row] *= t->temperature;
    DST_FREE(one, NULL);
    return DST_OK;
}

/* The teacher's logits for one batch into out (batch x classes). */
static dst_result dst__teacher_batch(const dst_teacher *t, const float *x, const size_t *indices, int batch,
                                     float *out, dst_error *err)
{
    int i;
    dst_result r;
    if (t->members) return dst__ensemble_batch(t, x, indices, batch, out, err);
    if (t->model) {
        const float *y;
        if ((r = dst_model_forward(t->model, x, batch, 0, &y)) != DST_OK)
            return dst__err(err, r, "teacher model: %s", t->model->error);
        memcpy(out, y, (size_t)batch * t->classes * sizeof(float));
        return DST_OK;
    }
    if (t->logits) {
        if (!indices) return dst__err(err, DST_ERR_ARG, "cached teacher logits need sample indices");
        for (i = 0; i < batch; ++i) {
            if (indices[i] >= t->logits_rows)
                return dst__err(err, DST_ERR_ARG, "sample index %lu is beyond the %lu cached teacher rows",
                                (unsigned long)indices[i], (unsigned long)t->logits_rows);
            memcpy(out + (size_t)i * t->classes, t->logits + indices[i] * (size_t)t->classes,
                   (size_t)t->classes * sizeof(float));
        }
        return DST_OK;
    }
    if ((r = t->fn(t->user, x, indices, batch, out)) != DST_OK)
        return dst__err(err, r, "teacher callback returned %s", dst_result_string(r));
    return DST_OK;
}

static dst_result dst__teacher_ok(const dst_teacher *t, size_t classes, dst_error *err);

/* An ensemble: members that are teachers of one kind each, with the same
   classes; weights >= 0, not all 0; a temperature. */
static dst_result dst__ensemble_ok(const dst_teacher *t, size_t classes, dst_error *err)
{
    int i;
    double wsum = 0;
    dst_result r;
    dst_error sub;
    if (t->model || t->logits || t->fn)
        return dst__err(err, DST_ERR_ARG, "an ensemble teacher has members only (no model, logits or callback)");
    if (!t->members || t->member_count < 1)
        return dst__err(err, DST_ERR_ARG, "an ensemble needs members (count %d)", t->member_count);
    if (!(t->temperature > 0) || !dst__finite(t->temperature))
        return dst__err(err, DST_ERR_ARG, "ensemble temperature %g: must be finite and > 0", (double)t->temperature);
    for (i = 0; i < t->member_count; ++i) {
        const dst_teacher *one = &t->members[i];
        float w = t->weights ? t->weights[i] : 1;
        if (one->members || one->member_count)
            return dst__err(err, DST_ERR_ARG, "ensemble member %d is an ensemble (give its members instead)", i);
        if ((r = dst__teacher_ok(one, classes ? classes : (size_t)t->classes, &sub)) != DST_OK)
            return dst__err(err, r, "ensemble member %d: %s", i, sub.message);
        if (!(w >= 0) || !dst__finite(w))
            return dst__err(err, DST_ERR_ARG, "ensemble weight %d is %g: must be finite and >= 0", i, (double)w);
        wsum += (double)w;
    }
    if (!(wsum > 0)) return dst__err(err, DST_ERR_ARG, "ensemble weights are all 0");
    return DST_OK;
}

static dst_result dst__teacher_ok(const dst_teacher *t, size_t classes, dst_error *err)
{
    int sources;
    if (!t) return dst__err(err, DST_ERR_ARG, "teacher is NULL");
    if (t->members || t->member_count) return dst__ensemble_ok(t, classes, err);
    sources = (t->model != NULL) + (t->logits != NULL) + (t->fn != NULL);
    if (sources != 1)
        return dst__err(err, DST_ERR_ARG, "a teacher needs exactly one of model, logits, callback (has %d)", sources);
    if (t->classes < 1 || (classes && (size_t)t->classes != classes))
        return dst__err(err, DST_ERR_ARG, "teacher gives %d classes, the student has %lu",
                        t->classes, (unsigned long)classes);
    if (t->model && t->model->out_size != (size_t)t->classes)
        return dst__err(err, DST_ERR_ARG, "teacher model has %lu outputs, teacher says %d classes",
                        (unsigned long)t->model->out_size, t->classes);
    return DST_OK;
}

/* The teacher over count samples in batches of 256, the samples numbered
   from first on (the indices a callback or cached logits see). */
static dst_result dst__teacher_run(const dst_teacher *t, const float *x, size_t sample_size, size_t count,
                                   size_t first, float *out, dst_error *err)
{
    size_t done = 0, idx[256];
    dst_result r;
    while (done < count) {
        int b = (int)(count - done < 256 ? count - done : 256), i;
        for (i = 0; i < b; ++i) idx[i] = first + done + (size_t)i;
        if ((r = dst__teacher_batch(t, x + done * sample_size, idx, b, out + done * (size_t)t->classes, err)) != DST_OK)
            return r;
        done += (size_t)b;
    }
    return DST_OK;
}

DSTDEF dst_result dst_teacher_cache(const dst_teacher *t, const float *x, size_t sample_size,
                                    size_t count, float *out, dst_error *err)
{
    dst_result r;
    int i;
    dst__err_clear(err);
    if ((r = dst__teacher_ok(t, 0, err)) != DST_OK) return r;
    if (!x || !out || sample_size == 0) return dst__err(err, DST_ERR_ARG, "x, out and sample_size are needed");
    for (i = 0; i < dst__teacher_leaves(t); ++i) {
        const dst_model *tm = dst__teacher_leaf(t, i)->model;
        if (tm && tm->in_size != sample_size)
            return dst__err(err, DST_ERR_ARG, "teacher model takes %lu floats per sample, not %lu",
                            (unsigned long)tm->in_size, (unsigned long)sample_size);
    }
    return dst__teacher_run(t, x, sample_size, count, 0, out, err);
}

DSTDEF dst_result dst_model_distill_step(dst_model *m, const dst_teacher *t, const float *x,
                                         const int *labels, const size_t *indices, int batch,
                                         float temperature, float alpha, float *loss)
{
    dst_error e;
    dst_result r;
    if (!m) return DST_ERR_ARG;
    if ((r = dst__teacher_ok(t, m->out_size, &e)) != DST_OK) return dst__fail(m, r, "%s", e.message);
    if (!x || batch < 1) return dst__fail(m, DST_ERR_ARG, "distill step needs x and batch >= 1");
    if (dst__teacher_is(t, m)) return dst__fail(m, DST_ERR_ARG, "a model cannot be its own teacher");
    if ((r = dst_model_reserve(m, batch)) != DST_OK) return r;
    if ((r = dst__teacher_batch(t, x, indices, batch, m->tlogits, &e)) != DST_OK)
        return dst__fail(m, r, "%s", e.message);
    return dst_model_train_step(m, x, labels, batch, m->tlogits, temperature, alpha, loss);
}

DSTDEF dst_fit_config dst_fit_default(void)
{
    dst_fit_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 10;
    c.batch_size = 128;
    c.seed = 1;
    c.temperature = 4.0f;
    c.alpha = 0.9f;
    c.schedule.kind = DST_LR_CONSTANT;
    return c;
}

/* ---- augmentation: a random view of each training batch ----
   (dst_augment says what and why; the draws never depend on threads.) */

static int dst__augment_on(const dst_augment *a)
{
    return a->shift != 0 || a->flip != 0 || a->mixup_alpha != 0 || a->noise != 0;
}

static dst_result dst__augment_check(dst_model *m, const dst_fit_config *c)
{
    const dst_augment *a = &c->augment;
    int i, side = m->in_h > m->in_w ? m->in_h : m->in_w;
    if (!dst__augment_on(a)) return DST_OK;
    if (a->shift < 0 || a->shift > side || (a->flip != 0 && a->flip != 1) || !(a->mixup_alpha >= 0) ||
        !dst__finite(a->mixup_alpha) || !(a->noise >= 0) || !dst__finite(a->noise))
        return dst__fail(m, DST_ERR_ARG, "augment: shift %d (0 to the image's side, %d), flip %d (0 or 1), "
                         "mixup_alpha %g and noise %g (finite, >= 0)", a->shift, side, a->flip,
                         (double)a->mixup_alpha, (double)a->noise);
    if ((a->shift || a->flip) && m->in_h < 2)
        return dst__fail(m, DST_ERR_ARG, "augment: shift and flip move pixels, and the model's input (%d x %d x %d) "
                         "is not an image", m->in_c, m->in_h, m->in_w);
    for (i = 0; c->teacher && i < dst__teacher_leaves(c->teacher); ++i)
        if (dst__teacher_leaf(c->teacher, i)->logits)
            return dst__fail(m, DST_ERR_ARG, "augment: cached teacher logits belong to the samples as they were, "
                             "and augmentation shows the student other inputs; give a teacher model or callback "
                             "(it is run on the augmented batch) or turn augmentation off");
    return DST_OK;
}

/* fit's augmentation buffers: a batch of samples, mixup's partners' labels
   and weights (one block; tmp NULL when augmentation is off). */
typedef struct dst__augment_bufs {
    float *tmp, *lambda;
    int   *by_b;
} dst__augment_bufs;

static dst_result dst__augment_begin(dst_model *m, const dst_fit_config *c, dst__augment_bufs *a)
{
    size_t bs = (size_t)c->batch_size, bytes;
    memset(a, 0, sizeof *a);
    if (!dst__augment_on(&c->augment)) return DST_OK;
    if (!dst__mul_ok(m->in_size + 2, bs * sizeof(float), &bytes) ||
        !(a->tmp = (float *)DST_MALLOC(bytes, m->alloc_user)))
        return dst__fail(m, DST_ERR_NOMEM, "augmentation buffers for a batch of %lu", (unsigned long)bs);
    a->lambda = a->tmp + m->in_size * bs;
    a->by_b = (int *)(void *)(a->lambda + bs);
    return DST_OK;
}

/* A generator of its own for one augmentation draw: from the fit's seed,
   the epoch, and the item (a sample's stream number, or for mixup a
   batch's number: kind 0 and 1). */
static void dst__augment_rng(dst_rng *rng, uint64_t seed, int epoch, size_t item, unsigned kind)
{
    dst_rng_seed(rng, seed ^ 0x6A09E667F3BCC909ull);
    dst_rng_seed(rng, dst_rng_next(rng) ^ (((uint64_t)(unsigned)epoch << 1) | kind));
    dst_rng_seed(rng, dst_rng_next(rng) ^ (uint64_t)item);
}

/* out = in (c planes of h x w) mirrored left-right when flip, then moved
   down dy rows and right dx columns: out(y, x) = in(y - dy, x - dx) after
   the mirror, zero where nothing comes. */
static void dst__augment_move(const float *in, float *out, int c, int h, int w, int dy, int dx, int flip)
{
    int ch, y, x;
    for (ch = 0; ch < c; ++ch)
        for (y = 0; y < h; ++y)
            for (x = 0; x < w; ++x) {
                int sy = y - dy, sx = x - dx;
                size_t plane = (size_t)ch * h * w;
                out[plane + (size_t)y * w + x] = sy < 0 || sy >= h || sx < 0 || sx >= w ? 0.0f
                    : in[plane + (size_t)sy * w + (flip ? w - 1 - sx : sx)];
            }
}

/* Augments the batch bx (bs samples, stream numbers idx, labels by) in
   place: per sample shift, flip and noise, then mixup across the batch,
   which writes the partners' labels to by_b and the weights to lambda and
   makes a mix with an unlabelled sample unlabelled. tmp: bs samples. */
static void dst__augment_batch(const dst_model *m, const dst_fit_config *c, int epoch, size_t batch_no,
                               const size_t *idx, int bs, float *bx, int *by, float *tmp, int *by_b, float *lambda)
{
    const dst_augment *a = &c->augment;
    size_t in = m->in_size, v;
    int k;
    dst_rng rng;
    for (k = 0; k < bs && (a->shift || a->flip || a->noise > 0); ++k) {
        float *x = bx + (size_t)k * in;
        dst__augment_rng(&rng, c->seed, epoch, idx[k], 0);
        if (a->shift || a->flip) {
            int dy = (int)dst_rng_below(&rng, 2 * (size_t)a->shift + 1) - a->shift;
            int dx = (int)dst_rng_below(&rng, 2 * (size_t)a->shift + 1) - a->shift;
            int flip = a->flip ? (int)(dst_rng_next(&rng) & 1) : 0;
            memcpy(tmp, x, in * sizeof(float));
            dst__augment_move(tmp, x, m->in_c, m->in_h, m->in_w, dy, dx, flip);
        }
        if (a->noise > 0)
            for (v = 0; v < in; ++v) x[v] += a->noise * dst_rng_normal(&rng);
    }
    if (!(a->mixup_alpha > 0)) return;
    dst__augment_rng(&rng, c->seed, epoch, batch_no, 1);
    for (k = 0; k < bs; ++k) by_b[k] = k;
    for (k = bs - 1; k > 0; --k) { /* the partners: a random permutation */
        int j = (int)dst_rng_below(&rng, (size_t)k + 1), t = by_b[k];
        by_b[k] = by_b[j];
        by_b[j] = t;
    }
    memcpy(tmp, bx, (size_t)bs * in * sizeof(float));
    for (k = 0; k < bs; ++k) {
        double lam = dst__rng_beta_sym(&rng, (double)a->mixup_alpha);
        float l = (float)(lam > 0.5 ? lam : 1 - lam), r = 1 - l;
        const float *xa = tmp + (size_t)k * in, *xb = tmp + (size_t)by_b[k] * in;
        float *x = bx + (size_t)k * in;
        for (v = 0; v < in; ++v) x[v] = l * xa[v] + r * xb[v];
        lambda[k] = l;
    }
    for (k = 0; k < bs; ++k) by_b[k] = by[by_b[k]];
    for (k = 0; k < bs; ++k)
        if (by_b[k] == DST_NO_LABEL) by[k] = DST_NO_LABEL;
}

/* ---- the transfer set: labelled and unlabelled samples in one stream ----
   The stream has count + unlabeled_count samples; sample i < count is x[i]
   with labels[i] (DST_NO_LABEL when labels is NULL), the others come from
   unlabeled_x without a label. */

static size_t dst__fit_stream_count(size_t count, const dst_fit_config *c)
{
    return count + (c->teacher ? c->unlabeled_count : 0);
}

static dst_result dst__fit_transfer_check(dst_model *m, size_t count, const dst_fit_config *c)
{
    size_t total = count + c->unlabeled_count;
    int i;
    if (c->unlabeled_count && !c->unlabeled_x)
        return dst__fail(m, DST_ERR_ARG, "unlabeled_count %lu without unlabeled_x", (unsigned long)c->unlabeled_count);
    if (total < count) return dst__fail(m, DST_ERR_ARG, "count + unlabeled_count overflows");
    for (i = 0; i < dst__teacher_leaves(c->teacher); ++i) {
        const dst_teacher *t = dst__teacher_leaf(c->teacher, i);
        if (t->logits && t->logits_rows < total)
            return dst__fail(m, DST_ERR_ARG, "%lu cached teacher rows for %lu samples (%lu labelled, %lu unlabeled)",
                             (unsigned long)t->logits_rows, (unsigned long)total, (unsigned long)count,
                             (unsigned long)c->unlabeled_count);
    }
    return DST_OK;
}

/* The inputs and labels of the stream samples idx[0..bs) into bx and by:
   copied from the arrays, or asked of the batch source. */
static dst_result dst__fit_gather(dst_model *m, const float *x, const int *labels, size_t count,
                                  const dst_fit_config *c, const size_t *idx, int bs, float *bx, int *by)
{
    size_t in = m->in_size;
    int k;
    dst_result r;
    if (c->source) {
        if ((r = c->source(c->source_user, idx, bs, bx, by)) != DST_OK)
            return dst__fail(m, r, "the batch source returned %s", dst_result_string(r));
        return DST_OK;
    }
    for (k = 0; k < bs; ++k) {
        size_t i = idx[k];
        const float *src = i < count ? x + i * in : c->unlabeled_x + (i - count) * in;
        memcpy(bx + (size_t)k * in, src, in * sizeof(float));
        by[k] = i < count && labels ? labels[i] : DST_NO_LABEL;
    }
    return DST_OK;
}

/* The labelled samples among the first n of the order: what an epoch resumed
   after n samples has already counted for its accuracy. */
static size_t dst__fit_labelled_before(const size_t *order, size_t n, const int *labels, size_t count)
{
    size_t i, k = 0;
    for (i = 0; i < n; ++i) k += order[i] < count && labels && labels[order[i]] != DST_NO_LABEL;
    return k;
}

/* The teacher fit distills from: a model or callback teacher run once over
   the stream into *cache (made here, freed by the caller) and served from
   it as *cached, unless c->teacher_per_batch or the batches come from a
   source (no x to run it on); otherwise c->teacher. */
static dst_result dst__fit_teacher(dst_model *m, const float *x, size_t count, const dst_fit_config *c,
                                   float **cache, dst_teacher *cached, const dst_teacher **use)
{
    const dst_teacher *t = c->teacher;
    size_t total = dst__fit_stream_count(count, c), bytes;
    dst_error e;
    dst_result r;
    *use = t;
    *cache = NULL;
    if (!t || t->logits || c->teacher_per_batch || c->attention_count || c->hint_count || c->source ||
        dst__augment_on(&c->augment))
        return DST_OK;
    if (!dst__mul_ok(total, (size_t)t->classes * sizeof(float), &bytes) ||
        !(*cache = (float *)DST_MALLOC(bytes, m->alloc_user)))
        return dst__fail(m, DST_ERR_NOMEM, "the teacher's logits for %lu samples (teacher_per_batch = 1 needs no cache)",
                         (unsigned long)total);
    r = dst__teacher_run(t, x, m->in_size, count, 0, *cache, &e);
    if (r == DST_OK && total > count)
        r = dst__teacher_run(t, c->unlabeled_x, m->in_size, total - count, count, *cache + count * (size_t)t->classes, &e);
    if (r != DST_OK) return dst__fail(m, r, "%s", e.message);
    *cached = dst_teacher_logits(*cache, total, t->classes);
    *use = cached;
    return DST_OK;
}

/* ---- feature terms (attention transfer, hints) in fit ---- */

/* The last layer from p on that shares p's output buffer (in-place layers
   and fused ReLUs): its output is what p's buffer holds after a forward. */
static int dst__chain_end(const dst_model *m, int p)
{
    while (p + 1 < m->layer_count && m->layers[p + 1].out == m->layers[p].out) ++p;
    return p;
}

static void dst__features_free(dst_model *m, dst__features *f)
{
    int k;
    for (k = 0; f->inj.grad && k < f->count; ++k) dst__free_aligned(f->inj.grad[k], m->alloc_user);
    for (k = 0; f->adapters && k < f->hint_count; ++k) dst__free_aligned(f->adapters[k].params, m->alloc_user);
    if (f->adapters) DST_FREE(f->adapters, m->alloc_user);
    if (f->s_at) DST_FREE(f->s_at, m->alloc_user);
    if (f->inj.grad) DST_FREE((void *)(uintptr_t)f->inj.grad, m->alloc_user);
    if (f->inj.size) DST_FREE((void *)(uintptr_t)f->inj.size, m->alloc_user);
    memset(f, 0, sizeof *f);
}

/* One term's layer positions and weight against the student m and the
   teacher t; kind names it in the message. */
static dst_result dst__feature_term_check(dst_model *m, const dst_model *t, const char *kind, int k, int sl, int tl,
                                          float weight)
{
    const dst__layer *ls, *lt;
    if (sl < 0 || sl >= m->layer_count || tl < 0 || tl >= t->layer_count || !(weight >= 0) || !dst__finite(weight))
        return dst__fail(m, DST_ERR_ARG, "%s term %d: layers %d and %d (the student has %d, the teacher %d), "
                         "weight %g (finite, >= 0)", kind, k, sl, tl, m->layer_count, t->layer_count, (double)weight);
    ls = &m->layers[sl]; lt = &t->layers[tl];
    if (!dst__attention_sides_ok(ls->out_h, ls->out_w, lt->out_h, lt->out_w))
        return dst__fail(m, DST_ERR_ARG, "%s term %d: student maps of %dx%d and teacher maps of %dx%d "
                         "are not in one whole ratio", kind, k, ls->out_h, ls->out_w, lt->out_h, lt->out_w);
    return DST_OK;
}

/* Hint term k's adapter, from s_c to t_c channels: its block, and its first
   values from the term or drawn from the fit's seed (a stream of its own). */
static dst_result dst__adapter_make(dst_model *m, const dst_fit_config *c, int k, int s_c, int t_c, dst__adapter *ad)
{
    size_t bytes;
    dst_rng rng;
    ad->count = (size_t)t_c * ((size_t)s_c + 1);
    if (!dst__mul_ok(ad->count, 4 * sizeof(float), &bytes) ||
        !(ad->params = (float *)dst__alloc_aligned(bytes, m->alloc_user)))
        return dst__fail(m, DST_ERR_NOMEM, "hint term %d's adapter (%d x %d)", k, t_c, s_c + 1);
    ad->grads = ad->params + ad->count;
    ad->state0 = ad->grads + ad->count;
    ad->state1 = ad->state0 + ad->count;
    memset(ad->grads, 0, 3 * ad->count * sizeof(float));
    ad->step = 0;
    if (c->hint[k].adapter_init) {
        memcpy(ad->params, c->hint[k].adapter_init, ad->count * sizeof(float));
    } else {
        dst_rng_seed(&rng, c->seed ^ (0x68696E74ull << 32) ^ (uint64_t)k); /* "hint" */
        dst__fill_uniform(&rng, ad->params, ad->count, 1.0f / sqrtf((float)s_c));
    }
    return DST_OK;
}

/* Checks c's attention and hint terms against the student and the teacher
   model and makes their buffers (f->count 0 when there are none). */
static dst_result dst__fit_features(dst_model *m, const dst_fit_config *c, dst__features *f)
{
    int k, na = c->attention_count, nh = c->hint_count, n;
    dst_model *t = c->teacher ? c->teacher->model : NULL;
    float **grads;
    size_t *sizes;
    dst_result r;
    memset(f, 0, sizeof *f);
    if (na == 0 && nh == 0) return DST_OK;
    if (na < 0 || (na && !c->attention)) return dst__fail(m, DST_ERR_ARG, "attention_count %d without attention terms", na);
    if (nh < 0 || (nh && !c->hint)) return dst__fail(m, DST_ERR_ARG, "hint_count %d without hint terms", nh);
    if (na > INT_MAX / 2 || nh > INT_MAX / 2) return dst__fail(m, DST_ERR_ARG, "%d attention and %d hint terms", na, nh);
    if (!t)
        return dst__fail(m, DST_ERR_ARG, "%s needs a teacher model (its layers' outputs)",
                         na ? "attention transfer" : "a hint term");
    if ((r = dst_model_reserve(t, c->batch_size)) != DST_OK) return dst__fail(m, r, "teacher: %s", t->error);
    n = na + nh;
    f->attention = c->attention; f->hint = c->hint;
    f->attention_count = na; f->hint_count = nh; f->count = n; f->teacher = t; f->inj.count = n;
    f->s_at = (int *)DST_MALLOC((size_t)n * sizeof(int), m->alloc_user);
    grads = (float **)DST_MALLOC((size_t)n * sizeof(float *), m->alloc_user);
    sizes = (size_t *)DST_MALLOC((size_t)n * sizeof(size_t), m->alloc_user);
    f->adapters = nh ? (dst__adapter *)DST_MALLOC((size_t)nh * sizeof(dst__adapter), m->alloc_user) : NULL;
    f->inj.grad = grads; f->inj.size = sizes;
    if (grads) memset(grads, 0, (size_t)n * sizeof(float *));
    if (f->adapters) memset(f->adapters, 0, (size_t)nh * sizeof(dst__adapter));
    if (!f->s_at || !grads || !sizes || (nh && !f->adapters)) {
        dst__features_free(m, f);
        return dst__fail(m, DST_ERR_NOMEM, "feature terms");
    }
    f->inj.at = f->s_at;
    for (k = 0; k < n; ++k) {
        int hk = k - na, sl = hk < 0 ? c->attention[k].student_layer : c->hint[hk].student_layer;
        int tl = hk < 0 ? c->attention[k].teacher_layer : c->hint[hk].teacher_layer;
        float w = hk < 0 ? c->attention[k].weight : c->hint[hk].weight;
        r = dst__feature_term_check(m, t, hk < 0 ? "attention" : "hint", hk < 0 ? k : hk, sl, tl, w);
        if (r == DST_OK && hk >= 0)
            r = dst__adapter_make(m, c, hk, m->layers[sl].out_c, t->layers[tl].out_c, &f->adapters[hk]);
        if (r != DST_OK) { dst__features_free(m, f); return r; }
        f->s_at[k] = dst__chain_end(m, sl);
        sizes[k] = m->layers[sl].out_size;
        if (!(grads[k] = (float *)dst__alloc_aligned((size_t)c->batch_size * sizes[k] * sizeof(float), m->alloc_user))) {
            dst__features_free(m, f);
            return dst__fail(m, DST_ERR_NOMEM, "feature term %d's gradient", k);
        }
    }
    return DST_OK;
}

/* A distillation step with feature terms: the teacher model on the batch,
   then the student's step with the terms' losses and gradients (and
   mixup's labels, mix, when not NULL; f->count may then be 0). */
static dst_result dst__fit_features_step(dst_model *m, const dst_teacher *t, const float *x, const int *labels,
                                         const size_t *idx, int bs, const dst_fit_config *c, const dst__features *f,
                                         const dst__mix *mix, float *loss)
{
    dst_error e;
    dst_result r;
    if ((r = dst__teacher_batch(t, x, idx, bs, m->tlogits, &e)) != DST_OK) return dst__fail(m, r, "%s", e.message);
    return dst__train_step(m, x, labels, bs, m->tlogits, c->temperature, c->alpha, loss, f->count ? f : NULL, mix);
}

static dst_result dst__fit_check(dst_model *m, const float *x, const int *labels, size_t count,
                                 const dst_fit_config *c)
{
    dst_error e;
    dst_result r;
    int i;
    if (!c) return dst__fail(m, DST_ERR_ARG, "fit config is NULL");
    if (c->source && (x || labels))
        return dst__fail(m, DST_ERR_ARG, "with a batch source, x and labels are NULL (the source gives both)");
    if ((!x && !c->source) || count == 0) return dst__fail(m, DST_ERR_ARG, "fit needs x (or a batch source) and count >= 1");
    if (c->epochs < 1) return dst__fail(m, DST_ERR_ARG, "epochs %d: must be >= 1", c->epochs);
    if (c->batch_size < 1) return dst__fail(m, DST_ERR_ARG, "batch_size %d: must be >= 1", c->batch_size);
    if (!labels && !c->source && !c->teacher) return dst__fail(m, DST_ERR_ARG, "fit needs labels, a teacher or both");
    if (c->unlabeled_count && !c->teacher)
        return dst__fail(m, DST_ERR_ARG, "unlabeled samples need a teacher (they get the soft term alone)");
    if (c->unlabeled_count && c->source)
        return dst__fail(m, DST_ERR_ARG, "with a batch source, unlabelled samples come from it (label DST_NO_LABEL), "
                         "not from unlabeled_x");
    if (labels && (r = dst__labels_ok(m, labels, count, c->teacher != NULL)) != DST_OK) return r;
    if (c->teacher) {
        if ((r = dst__teacher_ok(c->teacher, m->out_size, &e)) != DST_OK) return dst__fail(m, r, "%s", e.message);
        if (dst__teacher_is(c->teacher, m)) return dst__fail(m, DST_ERR_ARG, "a model cannot be its own teacher");
        for (i = 0; i < dst__teacher_leaves(c->teacher); ++i) {
            const dst_model *tm = dst__teacher_leaf(c->teacher, i)->model;
            if (tm && tm->in_size != m->in_size)
                return dst__fail(m, DST_ERR_ARG, "teacher takes %lu inputs per sample, the student %lu",
                                 (unsigned long)tm->in_size, (unsigned long)m->in_size);
        }
        if (c->teacher->members && c->teacher->member_count > 1 && c->teacher->temperature != c->temperature)
            return dst__fail(m, DST_ERR_ARG, "the ensemble's temperature %g is not the fit's %g (its logits are "
                             "made for one temperature)", (double)c->teacher->temperature, (double)c->temperature);
        if ((r = dst__fit_transfer_check(m, count, c)) != DST_OK) return r;
        if (!(c->temperature > 0) || !dst__finite(c->temperature))
            return dst__fail(m, DST_ERR_ARG, "temperature %g: must be finite and > 0", (double)c->temperature);
        if (!(c->alpha >= 0 && c->alpha <= 1))
            return dst__fail(m, DST_ERR_ARG, "alpha %g: must be in [0, 1]", (double)c->alpha);
    }
    if (c->schedule.kind != DST_LR_CONSTANT && c->schedule.kind != DST_LR_STEP && c->schedule.kind != DST_LR_COSINE)
        return dst__fail(m, DST_ERR_ARG, "unknown learning-rate schedule %d", (int)c->schedule.kind);
    if (c->schedule.warmup < 0)
        return dst__fail(m, DST_ERR_ARG, "warmup %ld: must be >= 0 epochs", c->schedule.warmup);
    if (c->val_count && (!c->val_x || !c->val_labels))
        return dst__fail(m, DST_ERR_ARG, "val_count %lu without val_x and val_labels", (unsigned long)c->val_count);
    if (c->keep_best && !c->val_count) return dst__fail(m, DST_ERR_ARG, "keep_best needs validation data (val_count >= 1)");
    if (c->patience < 0 || (c->patience && !c->keep_best))
        return dst__fail(m, DST_ERR_ARG, "patience %d: must be >= 0, and is used with keep_best", c->patience);
    return dst__augment_check(m, c);
}

/* keep_best: the parameters and batch norm statistics of the best
   validation epoch so far, put back when the fit ends. */
typedef struct dst__best {
    float *saved;        /* param_count + buffer_count floats */
    int    epoch, since; /* the best epoch (-1 none), epochs since it */
    float  loss, accuracy;
} dst__best;

static dst_result dst__best_begin(dst_model *m, const dst_fit_config *c, dst__best *b)
{
    size_t n = m->param_count + m->buffer_count;
    memset(b, 0, sizeof *b);
    b->epoch = -1;
    if (!c->keep_best) return DST_OK;
    if (!(b->saved = (float *)DST_MALLOC((n ? n : 1) * sizeof(float), m->alloc_user)))
        return dst__fail(m, DST_ERR_NOMEM, "keep_best: a copy of %lu parameters", (unsigned long)n);
    return DST_OK;
}

/* After an epoch's validation: 1 when patience has run out. */
static int dst__best_update(dst_model *m, const dst_fit_config *c, dst__best *b, int epoch, float loss, float acc)
{
    if (!b->saved) return 0;
    if (b->epoch < 0 || acc > b->accuracy || (acc == b->accuracy && loss < b->loss)) {
        b->epoch = epoch;
        b->loss = loss;
        b->accuracy = acc;
        b->since = 0;
        memcpy(b->saved, m->params, m->param_count * sizeof(float));
        if (m->buffer_count) memcpy(b->saved + m->param_count, m->buffers, m->buffer_count * sizeof(float));
        return 0;
    }
    return c->patience > 0 && ++b->since >= c->patience;
}

static void dst__best_end(dst_model *m, dst__best *b, int restore)
{
    if (!b->saved) return;
    if (restore && b->epoch >= 0) {
        memcpy(m->params, b->saved, m->param_count * sizeof(float));
        if (m->buffer_count) memcpy(m->buffers, b->saved + m->param_count, m->buffer_count * sizeof(float));
    }
    DST_FREE(b->saved, m->alloc_user);
    b->saved = NULL;
}

/* Fisher-Yates over the whole order, one draw per position. */
static void dst__shuffle(size_t *order, size_t count, dst_rng *rng)
{
    size_t i;
    for (i = count - 1; i > 0; --i) {
        size_t j = dst_rng_below(rng, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Where a fit starts: epoch 0, or with c->resume where the last one stopped
   (the shuffles of the epochs already done are replayed so the order and the
   generator are where they were). */
static dst_result dst__fit_begin(dst_model *m, const dst_fit_config *c, size_t count, size_t *order, dst_rng *rng)
{
    dst__fit_pos *f = &m->fit;
    long e;
    if (!c->resume || (f->epoch == 0 && f->batch == 0)) {
        memset(f, 0, sizeof *f);
    } else {
        if (f->count != count || f->batch_size != c->batch_size || f->seed != c->seed ||
            f->no_shuffle != (c->no_shuffle != 0))
            return dst__fail(m, DST_ERR_ARG, "resume: the fit stopped was on %lu samples, batch %d, seed %llu, "
                             "no_shuffle %d; this one has %lu, %d, %llu, %d", (unsigned long)f->count,
                             f->batch_size, (unsigned long long)f->seed, f->no_shuffle, (unsigned long)count,
                             c->batch_size, (unsigned long long)c->seed, c->no_shuffle != 0);
        for (e = 0; e < f->epoch && !c->no_shuffle; ++e) dst__shuffle(order, count, rng);
    }
    f->count = count;
    f->batch_size = c->batch_size;
    f->no_shuffle = c->no_shuffle != 0;
    f->seed = c->seed;
    return DST_OK;
}

DSTDEF dst_result dst_model_fit(dst_model *m, const float *x, const int *labels, size_t count,
                                const dst_fit_config *c)
{
    size_t *order = NULL, *idx, i, bytes, total;
    float *bx = NULL, *tcache = NULL;
    int *by, epoch, stop = 0;
    dst_rng rng;
    dst_result r;
    float base_lr;
    double t0 = dst_seconds(), samples = 0;
    size_t batches, in;
    dst__best best;
    dst_teacher cached;
    const dst_teacher *teacher;
    dst__features feat;
    dst__augment_bufs aug;
    dst__mix mix, *mixp;
    int has_labels = labels != NULL || (c && c->source != NULL);
    if (!m) return DST_ERR_ARG;
    if (m->q8) return dst__refuse_q8(m, "fit");
    if ((r = dst__fit_check(m, x, labels, count, c)) != DST_OK) return r;
    if ((r = dst_model_reserve(m, c->batch_size)) != DST_OK) return r;
    if ((r = dst__model_own(m)) != DST_OK) return r;
    if ((r = dst__fit_features(m, c, &feat)) != DST_OK) return r;
    if ((r = dst__best_begin(m, c, &best)) != DST_OK) { dst__features_free(m, &feat); return r; }
    in = m->in_size;
    total = dst__fit_stream_count(count, c);
    batches = (total + (size_t)c->batch_size - 1) / (size_t)c->batch_size;
    /* the shuffled order, the batch's indices and labels, and its gathered inputs */
    if (!dst__mul_ok(total + 2 * (size_t)c->batch_size, sizeof(size_t), &bytes) ||
        !(order = (size_t *)DST_MALLOC(bytes, m->alloc_user))) {
        dst__best_end(m, &best, 0);
        dst__features_free(m, &feat);
        return dst__fail(m, DST_ERR_NOMEM, "shuffle order for %lu samples", (unsigned long)total);
    }
    idx = order + total;
    by = (int *)(idx + c->batch_size);
    bx = (float *)dst__alloc_aligned(in * (size_t)c->batch_size * sizeof(float), m->alloc_user);
    if (!bx || (r = dst__augment_begin(m, c, &aug)) != DST_OK) {
        if (bx) dst__free_aligned(bx, m->alloc_user);
        DST_FREE(order, m->alloc_user);
        dst__best_end(m, &best, 0);
        dst__features_free(m, &feat);
        return bx ? r : dst__fail(m, DST_ERR_NOMEM, "batch buffer");
    }
    mix.labels_b = aug.by_b;
    mix.lambda = aug.lambda;
    mixp = c->augment.mixup_alpha > 0 && has_labels ? &mix : NULL;
    for (i = 0; i < total; ++i) order[i] = i;
    dst_rng_seed(&rng, c->seed);
    base_lr = m->opt.lr;
    if ((r = dst__fit_begin(m, c, total, order, &rng)) != DST_OK ||
        (r = dst__fit_teacher(m, x, count, c, &tcache, &cached, &teacher)) != DST_OK) {
        if (tcache) DST_FREE(tcache, m->alloc_user);
        if (aug.tmp) DST_FREE(aug.tmp, m->alloc_user);
        dst__free_aligned(bx, m->alloc_user);
        DST_FREE(order, m->alloc_user);
        dst__best_end(m, &best, 0);
        dst__features_free(m, &feat);
        return r;
    }
    for (epoch = (int)m->fit.epoch; epoch < c->epochs && !stop && r == DST_OK; ++epoch) {
        size_t b = m->fit.batch, correct = m->fit.correct, seen = m->fit.seen, labelled;
        double loss_sum = m->fit.loss_sum;
        dst_progress p;
        m->lr = dst_lr_at(&c->schedule, base_lr, epoch);
        if (!c->no_shuffle) dst__shuffle(order, total, &rng);
        /* (a source's labels are not kept: its resumed epoch counts them all as labelled) */
        labelled = c->source ? seen : dst__fit_labelled_before(order, seen, labels, count);
        memset(&p, 0, sizeof p);
        p.epoch = epoch; p.epochs = c->epochs; p.batches = batches; p.lr = m->lr;
        p.val_loss = p.val_accuracy = -1;
        p.best_epoch = best.epoch;
        for (; b < batches && !stop; ++b) {
            size_t start = b * (size_t)c->batch_size, n = total - start;
            int bs = (int)(n < (size_t)c->batch_size ? n : (size_t)c->batch_size), k;
            float loss;
            const float *y;
            for (k = 0; k < bs; ++k) idx[k] = order[start + (size_t)k];
            if ((r = dst__fit_gather(m, x, labels, count, c, idx, bs, bx, by)) != DST_OK) break;
            if (aug.tmp) dst__augment_batch(m, c, epoch, b, idx, bs, bx, by, aug.tmp, aug.by_b, aug.lambda);
            if (feat.count || (teacher && mixp))
                r = dst__fit_features_step(m, teacher, bx, has_labels ? by : NULL, idx, bs, c, &feat, mixp, &loss);
            else if (teacher)
                r = dst_model_distill_step(m, teacher, bx, has_labels ? by : NULL, idx, bs,
                                           c->temperature, c->alpha, &loss);
            else
                r = dst__train_step(m, bx, by, bs, NULL, 0, 0, &loss, NULL, mixp);
            if (r != DST_OK) break;
            y = m->layers[m->layer_count - 1].out;
            if (has_labels)
                for (k = 0; k < bs; ++k)
                    if (by[k] != DST_NO_LABEL) {
                        ++labelled;
                        if (dst__argmax(y + (size_t)k * m->out_size, m->out_size) == by[k]) ++correct;
                    }
            loss_sum += (double)loss * bs;
            seen += (size_t)bs;
            samples += bs;
            m->fit.batch = b + 1; m->fit.loss_sum = loss_sum; m->fit.correct = correct; m->fit.seen = seen;
            if (c->progress && c->progress_every && (b + 1) % c->progress_every == 0 && b + 1 < batches) {
                p.batch = b + 1;
                p.loss = (float)(loss_sum / (double)seen);
                p.accuracy = labelled ? (float)((double)correct / (double)labelled) : 0;
                p.seconds = dst_seconds() - t0;
                p.samples_per_second = p.seconds > 0 ? samples / p.seconds : 0;
                stop = c->progress(c->progress_user, &p);
            }
        }
        if (r != DST_OK || stop) break;
        if (c->val_count && (r = dst_model_evaluate(m, c->val_x, c->val_labels, c->val_count, 0,
                                                    &p.val_loss, &p.val_accuracy)) != DST_OK)
            break;
        stop = dst__best_update(m, c, &best, epoch, p.val_loss, p.val_accuracy);
        p.best_epoch = best.epoch;
        m->fit.epoch = epoch + 1; m->fit.batch = 0; m->fit.loss_sum = 0; m->fit.correct = m->fit.seen = 0;
        if (c->progress) {
            p.batch = batches;
            p.loss = (float)(loss_sum / (double)seen);
            p.accuracy = labelled ? (float)((double)correct / (double)labelled) : 0;
            p.seconds = dst_seconds() - t0;
            p.samples_per_second = p.seconds > 0 ? samples / p.seconds : 0;
            p.epoch_done = 1;
            stop |= c->progress(c->progress_user, &p);
        }
    }
    if (tcache) DST_FREE(tcache, m->alloc_user);
    if (aug.tmp) DST_FREE(aug.tmp, m->alloc_user);
    dst__free_aligned(bx, m->alloc_user);
    DST_FREE(order, m->alloc_user);
    dst__best_end(m, &best, r == DST_OK);
    dst__features_free(m, &feat);
    return r;
}

#endif /* DST_INFERENCE_ONLY */

/* ==== weight file ================================================ >>file */

/* ---- CRC32: the checksum of the header and the body ---- */

DSTDEF uint32_t dst_crc32(uint32_t crc, const void *buf, size_t len)
{
    /* CRC-32 (IEEE, reflected 0xEDB88320). Short inputs bit by bit; from 4 KiB
       on, 4 bytes a step through four 256-entry tables built on the stack
       (slicing-by-4): no global table, and many times the bitwise rate on the
       weight file's megabytes. */
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0;
    int k;
    crc = ~crc;
    if (len >= 4096) {
        uint32_t t[4][256], c;
        unsigned n;
        for (n = 0; n < 256; ++n) {
            c = n;
            for (k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
            t[0][n] = c;
        }
        for (n = 0; n < 256; ++n)
            for (k = 1; k < 4; ++k) t[k][n] = (t[k - 1][n] >> 8) ^ t[0][t[k - 1][n] & 255];
        for (; i + 4 <= len; i += 4) {
            crc ^= (uint32_t)p[i] | ((uint32_t)p[i + 1] << 8) | ((uint32_t)p[i + 2] << 16) | ((uint32_t)p[i + 3] << 24);
            crc = t[3][crc & 255] ^ t[2][(crc >> 8) & 255] ^ t[1][(crc >> 16) & 255] ^ t[0][crc >> 24];
        }
    }
    for (; i < len; ++i) {
        crc ^= p[i];
        for (k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* ---- metadata ---- */

static int dst__meta_find(const dst_model *m, const char *key)
{
    int i;
    for (i = 0; i < m->meta_count; ++i)
        if (strcmp(m->meta[i].key, key) == 0) return i;
    return -1;
}

/* Sets key to a string (str != NULL, str_len bytes) or a number. */
static dst_result dst__meta_set(dst_model *m, const char *key, size_t key_len, const char *str, size_t str_len,
                                double num)
{
    char *block;
    int i;
    size_t bytes;
    if (key_len < 1 || key_len > 255)
        return dst__fail(m, DST_ERR_ARG, "metadata key of %lu bytes: must be 1 to 255", (unsigned long)key_len);
    if (str && str_len > (size_t)-1 - key_len - 2) return dst__fail(m, DST_ERR_NOMEM, "metadata value too long");
    bytes = key_len + 1 + (str ? str_len + 1 : 0);
    if (!(block = (char *)DST_MALLOC(bytes, m->alloc_user))) return dst__fail(m, DST_ERR_NOMEM, "metadata entry");
    memcpy(block, key, key_len);
    block[key_len] = 0;
    if (str) {
        memcpy(block + key_len + 1, str, str_len);
        block[key_len + 1 + str_len] = 0;
    }
    i = dst__meta_find(m, block);
    if (i < 0) {
        if (m->meta_count == m->meta_cap) {
            int cap = m->meta_cap ? 2 * m->meta_cap : 8;
            dst__meta *nm = (dst__meta *)DST_REALLOC(m->meta, (size_t)cap * sizeof *nm, m->alloc_user);
            if (!nm) { DST_FREE(block, m->alloc_user); return dst__fail(m, DST_ERR_NOMEM, "metadata table"); }
            m->meta = nm;
            m->meta_cap = cap;
        }
        i = m->meta_count++;
    } else {
        DST_FREE(m->meta[i].key, m->alloc_user);
    }
    m->meta[i].key = block;
    m->meta[i].str = str ? block + key_len + 1 : NULL;
    m->meta[i].num = str ? 0.0 : num;
    return DST_OK;
}

DSTDEF dst_result dst_model_meta_set_string(dst_model *m, const char *key, const char *value)
{
    if (!m) return DST_ERR_ARG;
    if (!key || !value) return dst__fail(m, DST_ERR_ARG, "metadata key or value is NULL");
    return dst__meta_set(m, key, strlen(key), value, strlen(value), 0);
}

DSTDEF dst_result dst_model_meta_set_number(dst_model *m, const char *key, double value)
{
    if (!m) return DST_ERR_ARG;
    if (!key) return dst__fail(m, DST_ERR_ARG, "metadata key is NULL");
    return dst__meta_set(m, key, strlen(key), NULL, 0, value);
}

DSTDEF const char *dst_model_meta_string(const dst_model *m, const char *key)
{
    int i = m && key ? dst__meta_find(m, key) : -1;
    return i >= 0 ? m->meta[i].str : NULL;
}

DSTDEF int dst_model_meta_number(const dst_model *m, const char *key, double *value)
{
    int i = m && key ? dst__meta_find(m, key) : -1;
    if (i < 0 || m->meta[i].str) return 0;
    if (value) *value = m->meta[i].num;
    return 1;
}

DSTDEF int dst_model_meta_count(const dst_model *m) { return m ? m->meta_count : 0; }

DSTDEF const char *dst_model_meta_key(const dst_model *m, int index)
{
    return m && index >= 0 && index < m->meta_count ? m->meta[index].key : NULL;
}

/* ---- parameters borrowed from a caller's buffer ---- */

DSTDEF int dst_model_params_in_place(const dst_model *m) { return m && m->params && !m->own_params; }

/* Gives the model its own parameter block (params, grads, two states) and
   statistics block, copying borrowed values when there are some. */
static dst_result dst__model_own(dst_model *m)
{
    size_t total = m->param_count, bytes;
    float *block, *buffers = NULL;
    if (m->own_params) return DST_OK;
    if (!dst__mul_ok(total, 4 * sizeof(float), &bytes) ||
        !(block = (float *)dst__alloc_aligned(bytes ? bytes : 64, m->alloc_user)))
        return dst__fail(m, DST_ERR_NOMEM, "copying %lu in-place parameters", (unsigned long)total);
    if (m->buffer_count &&
        !(buffers = (float *)dst__alloc_aligned(2 * m->buffer_count * sizeof(float), m->alloc_user))) {
        dst__free_aligned(block, m->alloc_user);
        return dst__fail(m, DST_ERR_NOMEM, "copying the in-place running statistics");
    }
    memset(block, 0, bytes);
    if (m->params) memcpy(block, m->params, total * sizeof(float)); /* NULL: a loader fills them */
    if (buffers && m->buffers) memcpy(buffers, m->buffers, m->buffer_count * sizeof(float));
    m->own_params = m->params = block;
    m->grads = block + total;
    m->state0 = m->grads + total;
    m->state1 = m->state0 + total;
    if (buffers) {
        m->own_buffers = m->buffers = buffers;
        m->buffers_saved = buffers + m->buffer_count; /* see dst_model_create */
    }
    return DST_OK;
}

/* ---- the format's pieces ----
   Header (32 bytes), then chunks (tag, flags, size, payload padded to 8),
   then tensor data at the offsets the TENS chunk gives. docs/FORMAT.md.
   Below, each piece is written by a _put and read back by the _get beside
   it. A _get checks every count, size and offset against the bytes that
   hold it before using it, by subtraction so nothing wraps; its errors say
   what is wrong and at which byte. */

static const unsigned char dst__file_magic[8] = { 0x89, 'D', 'S', 'T', '\r', '\n', 0x1A, '\n' };
#define DST__HEADER_BYTES 32
#define DST__CHUNK_REQUIRED 1u
#define DST__LAYER_RECORD 64   /* bytes per layer in ARCH, version 1.0 */
#define DST__TRAIN_RECORD 128  /* bytes of TRAI, version 1.0 */
#define DST__DTYPE_F32 1       /* 2 float16, 3 bfloat16: reserved */
#define DST__DTYPE_I8 4        /* int8 models' weights (version 1.1) */
#define DST__DTYPE_I32 5       /* int8 models' biases (version 1.1) */

static void dst__put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void dst__put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void dst__put64(unsigned char *p, uint64_t v) { dst__put32(p, (uint32_t)v); dst__put32(p + 4, (uint32_t)(v >> 32)); }
static void dst__putf32(unsigned char *p, float f) { uint32_t u; memcpy(&u, &f, 4); dst__put32(p, u); }
static void dst__putf64(unsigned char *p, double d) { uint64_t u; memcpy(&u, &d, 8); dst__put64(p, u); }
static unsigned dst__get16(const unsigned char *p) { return (unsigned)p[0] | ((unsigned)p[1] << 8); }
static uint32_t dst__get32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t dst__get64(const unsigned char *p) { return (uint64_t)dst__get32(p) | ((uint64_t)dst__get32(p + 4) << 32); }
static float dst__getf32(const unsigned char *p) { uint32_t u = dst__get32(p); float f; memcpy(&f, &u, 4); return f; }
static double dst__getf64(const unsigned char *p) { uint64_t u = dst__get64(p); double d; memcpy(&d, &u, 8); return d; }

/* 1 on a little-endian host: then file data may be copied (or used) as it
   is; otherwise every value goes through the byte-by-byte path.
   DST__TEST_BYTE_PATHS (the scalar test build) takes that path on any host. */
static int dst__host_little_endian(void)
{
#ifdef DST__TEST_BYTE_PATHS
    return 0;
#else
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
#endif
}

static size_t dst__round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* The tensors of a model, in file order. */
typedef struct dst__tensor {
    char        name[32];
    int         ndim;
    uint64_t    dims[4];
    size_t      count;       /* elements */
    int         dtype;       /* DST__DTYPE_* */
    const float *data;       /* float32 */
    const void  *raw;        /* int8, int32 (an int8 model's weight and bias) */
    size_t      offset;      /* in the file */
} dst__tensor;

static size_t dst__dtype_bytes(int dtype) { return dtype == DST__DTYPE_I8 ? 1 : 4; }

enum { DST__SLOT_WEIGHT, DST__SLOT_BIAS, DST__SLOT_MEAN, DST__SLOT_VAR };
static const char *const dst__slot_names[4] = { "weight", "bias", "running_mean", "running_var" };

/* Shape of slot of layer ly, returns the number of dimensions (0 when the
   layer has no such tensor). The weight's is its kind's (dst__layer_ops). */
static int dst__slot_shape(const dst__layer *ly, int slot, uint64_t *dims)
{
    switch (slot) {
    case DST__SLOT_WEIGHT:
        if (!ly->weight_count) return 0;
        if (dst__ops(ly)->weight_dims) return dst__ops(ly)->weight_dims(ly, dims);
        dims[0] = ly->weight_count;
        return 1;
    case DST__SLOT_BIAS:
        if (!ly->bias_count) return 0;
        dims[0] = ly->bias_count;
        return 1;
    default:
        if (!ly->buffer_count) return 0;
        dims[0] = ly->buffer_count / 2;
        return 1;
    }
}

static const float *dst__slot_data(const dst_model *m, const dst__layer *ly, int slot)
{
    switch (slot) {
    case DST__SLOT_WEIGHT: return m->params + ly->param_offset;
    case DST__SLOT_BIAS: return m->params + ly->param_offset + ly->weight_count;
    case DST__SLOT_MEAN: return m->buffers + ly->buffer_offset;
    default: return m->buffers + ly->buffer_offset + ly->buffer_count / 2;
    }
}

/* File offsets of the model's data: the parameters exactly as the model lays
   them out (so a buffer can be used in place), then the running statistics,
   then a checkpoint's optimizer states, each region 64-byte aligned. */
/* An int8 model's tensors (version 1.1): layer by layer, each at the next
   multiple of 64; an int8 layer's weight is int8 (q_w) and its bias int32
   (q_b). Not the model's float layout: the float copies of int8 layers
   are not written, and a loader rebuilds them. */
static size_t dst__model_tensors_q8(const dst_model *m, size_t data_start, dst__tensor *t, size_t *file_end)
{
    size_t n = 0, end = data_start;
    int i, slot, k;
    for (i = 0; i < m->layer_count; ++i) {
        const dst__layer *ly = &m->layers[i];
        for (slot = 0; slot < 4; ++slot) {
            uint64_t dims[4];
            int nd = dst__slot_shape(ly, slot, dims), dtype = DST__DTYPE_F32;
            size_t count = 1;
            if (!nd) continue;
            for (k = 0; k < nd; ++k) count *= (size_t)dims[k];
            if (ly->q_w && slot < 2) dtype = slot ? DST__DTYPE_I32 : DST__DTYPE_I8;
            end = dst__round_up(end, 64);
            if (t) {
                dst__tensor *x = &t[n];
                sprintf(x->name, "%d.%s", i, dst__slot_names[slot]);
                x->ndim = nd;
                for (k = 0; k < nd; ++k) x->dims[k] = dims[k];
                x->count = count;
                x->dtype = dtype;
                x->data = dst__slot_data(m, ly, slot);
                x->raw = dtype == DST__DTYPE_I8 ? (const void *)ly->q_w : (const void *)ly->q_b;
                x->offset = end;
            }
            end += count * dst__dtype_bytes(dtype);
            ++n;
        }
    }
    if (file_end) *file_end = end;
    return n;
}

static size_t dst__model_tensors(const dst_model *m, int checkpoint, size_t data_start, dst__tensor *t,
                                 size_t *file_end)
{
    size_t n = 0, params_at = data_start, buffers_at, end;
    int i, slot, pass, states = checkpoint && m->has_opt ? dst_optimizer_state_count(&m->opt) : 0;
    if (m->q8) return dst__model_tensors_q8(m, data_start, t, file_end);
    buffers_at = dst__round_up(params_at + m->param_count * sizeof(float), 64);
    end = buffers_at + m->buffer_count * sizeof(float);
    for (pass = 0; pass < 2; ++pass) /* parameters, then running statistics: offset order */
    for (i = 0; i < m->layer_count; ++i) {
        const dst__layer *ly = &m->layers[i];
        for (slot = 2 * pass; slot < 2 * pass + 2; ++slot) {
            dst__tensor *x = t ? &t[n] : NULL;
            uint64_t dims[4];
            int nd = dst__slot_shape(ly, slot, dims), k;
            if (!nd) continue;
            if (x) {
                sprintf(x->name, "%d.%s", i, dst__slot_names[slot]);
                x->ndim = nd;
                x->count = 1;
                for (k = 0; k < nd; ++k) { x->dims[k] = dims[k]; x->count *= (size_t)dims[k]; }
                x->dtype = DST__DTYPE_F32;
                x->data = dst__slot_data(m, ly, slot);
                x->raw = NULL;
                x->offset = slot == DST__SLOT_WEIGHT ? params_at + ly->param_offset * sizeof(float)
                          : slot == DST__SLOT_BIAS ? params_at + (ly->param_offset + ly->weight_count) * sizeof(float)
                          : buffers_at + (ly->buffer_offset + (slot == DST__SLOT_VAR ? ly->buffer_count / 2 : 0)) * sizeof(float);
            }
            ++n;
        }
    }
    for (i = 0; i < states; ++i) {
        end = dst__round_up(end, 64);
        if (t) {
            dst__tensor *x = &t[n];
            sprintf(x->name, "optimizer.state%d", i);
            x->ndim = 1;
            x->dims[0] = m->param_count;
            x->count = m->param_count;
            x->dtype = DST__DTYPE_F32;
            x->data = m->own_params ? (i ? m->state1 : m->state0) : NULL; /* in place: never trained, zeros */
            x->raw = NULL;
            x->offset = end;
        }
        end += m->param_count * sizeof(float);
        ++n;
    }
    if (file_end) *file_end = end;
    return n;
}

/* ---- both ends: the sink a writer fills, the view a reader checks ---- */

/* Where the bytes go: counted and checksummed, and written through the
   callback in pieces of up to 4 KiB when there is one. */
typedef struct dst__sink {
    dst_write_fn write;
    void        *user;
    uint32_t     crc;
    size_t       count;
    int          failed;
    size_t       fill;
    unsigned char buf[4096];
} dst__sink;

static void dst__sink_flush(dst__sink *s)
{
    if (s->fill && s->write && !s->failed && s->write(s->user, s->buf, s->fill) != 0) s->failed = 1;
    s->fill = 0;
}

static void dst__sink_put(dst__sink *s, const void *data, size_t n)
{
    if (!s->write) s->crc = dst_crc32(s->crc, data, n); /* the checksum pass */
    s->count += n;
    if (!s->write || s->failed) return;
    if (n > sizeof s->buf - s->fill) {
        dst__sink_flush(s);
        if (n >= sizeof s->buf) {
            if (s->write(s->user, data, n) != 0) s->failed = 1;
            return;
        }
    }
    memcpy(s->buf + s->fill, data, n);
    s->fill += n;
}

static void dst__sink_zeros(dst__sink *s, size_t n)
{
    static const unsigned char zeros[64] = { 0 };
    while (n) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        dst__sink_put(s, zeros, k);
        n -= k;
    }
}

/* The file being read: its bytes and where each known chunk's payload lies. */
typedef struct dst__file {
    const unsigned char *p;
    size_t len;
    size_t at[5], size[5];   /* ARCH, TENS, META, TRAI, QUAN payloads (at == 0: absent) */
    size_t data_start;       /* first byte after the chunks */
} dst__file;

enum { DST__ARCH, DST__TENS, DST__META, DST__TRAI, DST__QUAN };
static const char *const dst__chunk_tags[5] = { "ARCH", "TENS", "META", "TRAI", "QUAN" };

static dst_result dst__bad(dst_error *err, size_t at, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return dst__err(err, DST_ERR_FORMAT, "weight file, byte %lu: %s", (unsigned long)at, what);
}

static int dst__get_int(const unsigned char *p) /* a two's complement int32 field */
{
    uint32_t u = dst__get32(p);
    return u <= (uint32_t)INT_MAX ? (int)u : -(int)(~u) - 1;
}

/* A printable copy of a name from the file, for messages. */
static void dst__printable(char *out, size_t cap, const unsigned char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n && i + 1 < cap; ++i) out[i] = s[i] >= 32 && s[i] < 127 ? (char)s[i] : '?';
    out[i] = 0;
}

/* *left -= n when n fits in it: budgets summed layer by layer without wrapping. */
static int dst__take(size_t *left, size_t n)
{
    if (n > *left) return 0;
    *left -= n;
    return 1;
}

/* ---- the header ---- */

/* The lowest minor version that holds the model: 1 for an int8 one. */
static void dst__header_put(unsigned char *h, int checkpoint, int q8, size_t file_end, uint32_t body_crc)
{
    memcpy(h, dst__file_magic, 8);
    dst__put16(h + 8, DST_FILE_VERSION_MAJOR);
    dst__put16(h + 10, q8 ? 1 : 0);
    dst__put32(h + 12, (checkpoint ? 4u : 3u) + (q8 ? 1u : 0u)); /* chunks */
    dst__put64(h + 16, (uint64_t)file_end);
    dst__put32(h + 24, body_crc);
    dst__put32(h + 28, dst_crc32(0, h, 28));
}

/* The magic (naming the likely mix-ups), both CRC32s, the version and the
   length; f then views the whole file. */
static dst_result dst__header_get(dst__file *f, const unsigned char *p, size_t len, dst_error *err)
{
    uint64_t size64;
    unsigned major, minor;
    memset(f, 0, sizeof *f);
    f->p = p;
    f->len = len;
    if (len < DST__HEADER_BYTES || memcmp(p, dst__file_magic, 8) != 0) {
        if (len >= 6 && memcmp(p, "\x93NUMPY", 6) == 0)
            return dst__bad(err, 0, "this is a .npy array, not a weight file (dst_npy_load reads it)");
        if (len >= 2 && p[0] == 'P' && p[1] == 'K')
            return dst__bad(err, 0, "this looks like a PyTorch .pt (zip) file; convert it with tools/torch/torch_export.py");
        if (len < DST__HEADER_BYTES && (len < 8 ? memcmp(p, dst__file_magic, len) : memcmp(p, dst__file_magic, 8)) == 0)
            return dst__bad(err, len, "truncated: %lu bytes, the header alone is %d", (unsigned long)len, DST__HEADER_BYTES);
        return dst__bad(err, 0, "wrong magic: not a distill.h weight file");
    }
    if (dst_crc32(0, p, 28) != dst__get32(p + 28))
        return dst__bad(err, 28, "header CRC32 mismatch: the first 28 bytes are corrupt");
    major = dst__get16(p + 8);
    minor = dst__get16(p + 10);
    if (major > DST_FILE_VERSION_MAJOR)
        return dst__err(err, DST_ERR_UNSUPPORTED, "weight file, byte 8: format version %u.%u; this reader knows %d.x "
                        "(a newer major version changes the layout: update distill.h)", major, minor,
                        DST_FILE_VERSION_MAJOR);
    if (major < 1) return dst__bad(err, 8, "format version %u.%u does not exist", major, minor);
    size64 = dst__get64(p + 16);
    if (size64 != (uint64_t)len)
        return size64 > (uint64_t)len
            ? dst__bad(err, len, "truncated: the header says %llu bytes, there are %lu", (unsigned long long)size64,
                       (unsigned long)len)
            : dst__bad(err, (size_t)size64, "%lu bytes after the end the header gives (%llu)",
                       (unsigned long)(len - (size_t)size64), (unsigned long long)size64);
    if (dst_crc32(0, p + DST__HEADER_BYTES, len - DST__HEADER_BYTES) != dst__get32(p + 24))
        return dst__bad(err, 24, "CRC32 of bytes 32 to %lu does not match: the file is corrupt", (unsigned long)len);
    return DST_OK;
}

/* ---- chunk headers: tag, flags, payload size; the payload padded to 8 ---- */

static void dst__chunk_put(dst__sink *s, const char *tag, uint32_t flags, size_t size)
{
    unsigned char h[16];
    memcpy(h, tag, 4);
    dst__put32(h + 4, flags);
    dst__put64(h + 8, (uint64_t)size);
    dst__sink_put(s, h, 16);
}

static void dst__chunk_pad(dst__sink *s, size_t size) { dst__sink_zeros(s, dst__round_up(size, 8) - size); }

/* Finds the chunks this reader knows; refuses a repeated one and an unknown
   one marked required. */
static dst_result dst__chunks_get(dst__file *f, dst_error *err)
{
    const unsigned char *p = f->p;
    size_t len = f->len, pos = DST__HEADER_BYTES;
    uint32_t chunks = dst__get32(p + 12), i;
    if (chunks > (len - pos) / 16)
        return dst__bad(err, 12, "%lu chunks cannot fit in %lu bytes", (unsigned long)chunks, (unsigned long)len);
    for (i = 0; i < chunks; ++i) {
        uint64_t size64;
        size_t size, padded;
        int k;
        if (len - pos < 16) return dst__bad(err, pos, "chunk %lu: truncated header", (unsigned long)i);
        size64 = dst__get64(p + pos + 8);
        if (size64 > (uint64_t)(len - pos - 16))
            return dst__bad(err, pos + 8, "chunk '%.4s' claims %llu bytes, %lu remain", (const char *)(p + pos),
                            (unsigned long long)size64, (unsigned long)(len - pos - 16));
        size = (size_t)size64;
        padded = dst__round_up(size, 8);
        if (padded > len - pos - 16) return dst__bad(err, pos + 8, "chunk '%.4s': padding runs past the end", (const char *)(p + pos));
        for (k = 0; k < 5; ++k)
            if (memcmp(p + pos, dst__chunk_tags[k], 4) == 0) break;
        if (k < 5) {
            if (f->at[k]) return dst__bad(err, pos, "a second '%s' chunk", dst__chunk_tags[k]);
            f->at[k] = pos + 16;
            f->size[k] = size;
        } else if (dst__get32(p + pos + 4) & DST__CHUNK_REQUIRED) {
            char tag[5];
            dst__printable(tag, sizeof tag, p + pos, 4);
            return dst__bad(err, pos, "chunk '%s' (version %u.%u) is required and unknown to this reader", tag,
                            dst__get16(p + 8), dst__get16(p + 10));
        }
        pos += 16 + padded;
    }
    f->data_start = pos;
    if (!f->at[DST__ARCH]) return dst__bad(err, DST__HEADER_BYTES, "no ARCH chunk (the architecture)");
    if (!f->at[DST__TENS]) return dst__bad(err, DST__HEADER_BYTES, "no TENS chunk (the tensor table)");
    return DST_OK;
}

/* ---- ARCH: the input shape, the seed, one record per layer ---- */

/* One layer's record (DST__LAYER_RECORD bytes in version 1.0): every field
   of its dst_layer_desc. */
static void dst__layer_record_put(unsigned char *b, const dst_layer_desc *d)
{
    memset(b, 0, DST__LAYER_RECORD);
    dst__put32(b, (uint32_t)d->kind);
    dst__put32(b + 4, (uint32_t)d->units);
    dst__put32(b + 8, (uint32_t)d->no_bias);
    dst__put32(b + 12, (uint32_t)d->init);
    dst__putf32(b + 16, d->param);
    dst__put32(b + 20, (uint32_t)d->kernel_h); dst__put32(b + 24, (uint32_t)d->kernel_w);
    dst__put32(b + 28, (uint32_t)d->stride_h); dst__put32(b + 32, (uint32_t)d->stride_w);
    dst__put32(b + 36, (uint32_t)d->pad_h); dst__put32(b + 40, (uint32_t)d->pad_w);
    dst__put32(b + 44, (uint32_t)d->dilation_h); dst__put32(b + 48, (uint32_t)d->dilation_w);
    dst__put32(b + 52, (uint32_t)d->groups);
    dst__putf32(b + 56, d->eps);
}

/* Layer index's record of rec bytes at q (file byte at). Checks the codes;
   dst__arch_get checks the shape the fields make. */
static dst_result dst__layer_record_get(const unsigned char *q, size_t rec, size_t at, int index, dst_layer_desc *d,
                                        dst_error *err)
{
    uint32_t kind = dst__get32(q), nb = dst__get32(q + 8), init = dst__get32(q + 12);
    size_t j;
    if (kind >= (uint32_t)DST_LAYER_KIND_COUNT)
        return dst__bad(err, at, "layer %d: unknown layer kind %lu", index, (unsigned long)kind);
    if (nb > 1) return dst__bad(err, at + 8, "layer %d: no_bias is %lu", index, (unsigned long)nb);
    if (init > (uint32_t)DST_INIT_XAVIER_NORMAL)
        return dst__bad(err, at + 12, "layer %d: unknown init %lu", index, (unsigned long)init);
    d->kind = (dst_layer_kind)kind;
    d->units = dst__get_int(q + 4);
    d->no_bias = (int)nb;
    d->init = (dst_init)init;
    d->param = dst__getf32(q + 16);
    d->kernel_h = dst__get_int(q + 20); d->kernel_w = dst__get_int(q + 24);
    d->stride_h = dst__get_int(q + 28); d->stride_w = dst__get_int(q + 32);
    d->pad_h = dst__get_int(q + 36); d->pad_w = dst__get_int(q + 40);
    d->dilation_h = dst__get_int(q + 44); d->dilation_w = dst__get_int(q + 48);
    d->groups = dst__get_int(q + 52);
    d->eps = dst__getf32(q + 56);
    for (j = 60; j < rec; ++j)
        if (q[j]) return dst__bad(err, at + j, "layer %d sets a field this reader does not know (a newer minor version?)", index);
    return DST_OK;
}

static size_t dst__arch_bytes(const dst_model *m) { return 32 + (size_t)m->layer_count * DST__LAYER_RECORD; }

static void dst__arch_put(dst__sink *s, const dst_model *m)
{
    unsigned char b[DST__LAYER_RECORD];
    int k;
    dst__chunk_put(s, "ARCH", DST__CHUNK_REQUIRED, dst__arch_bytes(m));
    memset(b, 0, 32);
    dst__put32(b, (uint32_t)m->in_c); dst__put32(b + 4, (uint32_t)m->in_h); dst__put32(b + 8, (uint32_t)m->in_w);
    dst__put32(b + 12, (uint32_t)m->layer_count);
    dst__put64(b + 16, m->seed);
    dst__put32(b + 24, DST__LAYER_RECORD);
    dst__sink_put(s, b, 32);
    for (k = 0; k < m->layer_count; ++k) {
        dst__layer_record_put(b, &m->layers[k].desc);
        dst__sink_put(s, b, DST__LAYER_RECORD);
    }
    dst__chunk_pad(s, dst__arch_bytes(m));
}

/* What a loaded architecture may ask for, layer by layer, before anything
   is allocated. */
typedef struct dst__arch_budget {
    size_t act_floats;   /* one sample's forward (outputs, masks, convolution scratch): a
                            tiny file must not make the first forward allocate gigabytes */
    size_t file_floats;  /* parameters and statistics: every one must be in the file (a byte
                            each at least: int8 weights) */
    size_t param_floats; /* and within the caller's max_param_bytes */
} dst__arch_budget;

/* Layer index (shape known, record at file byte at) against the budget. */
static dst_result dst__arch_layer_fits(const dst__layer *ly, int index, size_t at, dst__arch_budget *b,
                                       const dst__file *f, const dst_load_options *opt, dst_error *err)
{
    if (!dst__take(&b->act_floats, ly->out_size) || !dst__take(&b->act_floats, dst__layer_aux_floats(ly, 1)) ||
        !dst__take(&b->act_floats, ly->col_floats))
        return dst__bad(err, at, "layer %d: the activations of one sample exceed DST_MAX_ACTIVATION_FLOATS (%lu values)",
                        index, (unsigned long)DST_MAX_ACTIVATION_FLOATS);
    if (!dst__take(&b->file_floats, ly->weight_count) || !dst__take(&b->file_floats, ly->bias_count) ||
        !dst__take(&b->file_floats, ly->buffer_count))
        return dst__bad(err, at, "layer %d: the architecture needs more parameters than the file's %lu bytes hold",
                        index, (unsigned long)f->len);
    if (!dst__take(&b->param_floats, ly->weight_count) || !dst__take(&b->param_floats, ly->bias_count) ||
        !dst__take(&b->param_floats, ly->buffer_count))
        return dst__bad(err, at, "layer %d: the parameters so far pass the load options' max_param_bytes (%lu)",
                        index, (unsigned long)opt->max_param_bytes);
    return DST_OK;
}

/* ARCH -> a model description; *layers (allocated here) is the caller's to
   free. Each layer's shape is worked out as dst_model_create will find it,
   and held to the budget. */
static dst_result dst__arch_get(const dst__file *f, const dst_load_options *opt, dst_model_desc *desc,
                                dst_layer_desc **layers, dst_error *err)
{
    const unsigned char *p = f->p + f->at[DST__ARCH];
    size_t at = f->at[DST__ARCH], size = f->size[DST__ARCH], need = 0;
    uint32_t count, rec, v[3];
    int i, k;
    dst__layer *tmp;
    dst_layer_desc *ld;
    dst__arch_budget b;
    dst_result r = DST_OK;
    dst_error e;
    *layers = NULL;
    if (size < 32) return dst__bad(err, at, "ARCH chunk of %lu bytes, needs at least 32", (unsigned long)size);
    for (k = 0; k < 3; ++k) {
        v[k] = dst__get32(p + 4 * k);
        if (v[k] < 1 || v[k] > (uint32_t)INT_MAX)
            return dst__bad(err, at + 4 * (size_t)k, "input dimension %d is %lu", k, (unsigned long)v[k]);
    }
    count = dst__get32(p + 12);
    rec = dst__get32(p + 24);
    if (count < 1 || count > DST_MAX_LAYERS)
        return dst__bad(err, at + 12, "%lu layers (1 to DST_MAX_LAYERS = %d)", (unsigned long)count, DST_MAX_LAYERS);
    if (count > (uint32_t)opt->max_layers)
        return dst__bad(err, at + 12, "%lu layers, more than the load options' max_layers (%d)", (unsigned long)count,
                        opt->max_layers);
    if (rec < DST__LAYER_RECORD || rec % 4)
        return dst__bad(err, at + 24, "layer records of %lu bytes (at least %d, a multiple of 4)", (unsigned long)rec,
                        DST__LAYER_RECORD);
    if (!dst__mul_ok(count, rec, &need) || need != size - 32)
        return dst__bad(err, at, "ARCH chunk of %lu bytes; %lu layers of %lu bytes need %lu", (unsigned long)size,
                        (unsigned long)count, (unsigned long)rec, (unsigned long)(32 + need));
    if (dst__get32(p + 28)) return dst__bad(err, at + 28, "ARCH: reserved field is not zero");
    if (!dst__product_le(v[0], v[1], v[2], dst__limit_of(DST_MAX_ACTIVATION_FLOATS)))
        return dst__bad(err, at, "input %lu x %lu x %lu is larger than DST_MAX_ACTIVATION_FLOATS",
                        (unsigned long)v[0], (unsigned long)v[1], (unsigned long)v[2]);
    ld = (dst_layer_desc *)DST_MALLOC(count * sizeof *ld, opt->alloc_user);
    tmp = (dst__layer *)DST_MALLOC(count * sizeof *tmp, opt->alloc_user);
    if (!ld || !tmp) {
        r = dst__err(err, DST_ERR_NOMEM, "weight file: %lu layers", (unsigned long)count);
        goto done;
    }
    memset(ld, 0, count * sizeof *ld);
    memset(tmp, 0, count * sizeof *tmp);
    b.act_floats = DST_MAX_ACTIVATION_FLOATS;
    b.file_floats = f->at[DST__QUAN] ? f->len : f->len / sizeof(float); /* an int8 model's weights: a byte each */
    b.param_floats = opt->max_param_bytes / sizeof(float);
    for (i = 0; i < (int)count && r == DST_OK; ++i) {
        size_t q_at = at + 32 + (size_t)i * rec;
        if ((r = dst__layer_record_get(f->p + q_at, rec, q_at, i, &ld[i], err)) != DST_OK) break;
        tmp[i].desc = ld[i];
        tmp[i].in_c = i ? tmp[i - 1].out_c : (int)v[0];
        tmp[i].in_h = i ? tmp[i - 1].out_h : (int)v[1];
        tmp[i].in_w = i ? tmp[i - 1].out_w : (int)v[2];
        if (dst__layer_shape(&tmp[i], i, &e) != DST_OK) r = dst__bad(err, q_at, "%s", e.message);
        else r = dst__arch_layer_fits(&tmp[i], i, q_at, &b, f, opt, err);
    }
done:
    DST_FREE(tmp, opt->alloc_user);
    if (r != DST_OK) { DST_FREE(ld, opt->alloc_user); return r; }
    *desc = dst_model_desc_default();
    desc->input_c = (int)v[0];
    desc->input_h = (int)v[1];
    desc->input_w = (int)v[2];
    desc->layer_count = (int)count;
    desc->seed = dst__get64(p + 16);
    desc->alloc_user = opt->alloc_user;
    desc->layers = ld;
    *layers = ld;
    return DST_OK;
}

/* ---- TENS: the tensor table (name, dtype, shape, offset of each) ---- */

/* A checked TENS record. */
typedef struct dst__ftensor {
    size_t record_at, offset, bytes;
    int    layer, slot;      /* slot 0-3 of layer, or 4 + i for optimizer.state<i> */
} dst__ftensor;

static size_t dst__tensor_record_bytes(const dst__tensor *t) { return 2 + strlen(t->name) + 2 + 8 * (size_t)t->ndim + 8; }

static size_t dst__tens_bytes(const dst__tensor *t, size_t nt)
{
    size_t n = 8, i;
    for (i = 0; i < nt; ++i) n += dst__tensor_record_bytes(&t[i]);
    return n;
}

static void dst__tens_put(dst__sink *s, const dst__tensor *t, size_t nt)
{
    unsigned char b[8];
    size_t i;
    int k;
    dst__chunk_put(s, "TENS", DST__CHUNK_REQUIRED, dst__tens_bytes(t, nt));
    memset(b, 0, 8);
    dst__put32(b, (uint32_t)nt);
    dst__sink_put(s, b, 8);
    for (i = 0; i < nt; ++i) {
        size_t len = strlen(t[i].name);
        dst__put16(b, (unsigned)len);
        dst__sink_put(s, b, 2);
        dst__sink_put(s, t[i].name, len);
        b[0] = (unsigned char)t[i].dtype;
        b[1] = (unsigned char)t[i].ndim;
        dst__sink_put(s, b, 2);
        for (k = 0; k < t[i].ndim; ++k) { dst__put64(b, t[i].dims[k]); dst__sink_put(s, b, 8); }
        dst__put64(b, (uint64_t)t[i].offset);
        dst__sink_put(s, b, 8);
    }
    dst__chunk_pad(s, dst__tens_bytes(t, nt));
}

/* Which tensor a name is: layer and slot, or an optimizer state; -1 if none. */
static int dst__tensor_name(const unsigned char *s, size_t n, int *layer, int *slot)
{
    size_t i = 0;
    long v = 0;
    int k;
    if (n == 16 && memcmp(s, "optimizer.state", 15) == 0 && (s[15] == '0' || s[15] == '1')) {
        *layer = -1;
        *slot = 4 + (s[15] - '0');
        return 0;
    }
    while (i < n && i < 6 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
    if (i == 0 || i >= n || s[i] != '.' || (s[0] == '0' && i > 1)) return -1;
    ++i;
    for (k = 0; k < 4; ++k)
        if (strlen(dst__slot_names[k]) == n - i && memcmp(s + i, dst__slot_names[k], n - i) == 0) {
            *layer = (int)v;
            *slot = k;
            return 0;
        }
    return -1;
}

/* Checks every record against the model built from ARCH (names, dtype,
   shapes, bounds, alignment) and fills t[0..*nt). */
static dst_result dst__tens_get(const dst__file *f, const dst_model *m, int states, dst__ftensor *t, size_t *nt,
                                dst_error *err)
{
    const unsigned char *p = f->p;
    size_t at = f->at[DST__TENS], end = at + f->size[DST__TENS], pos = at, i, most = 4 * (size_t)m->layer_count + 2;
    uint32_t count;
    char name[64];
    if (f->size[DST__TENS] < 8) return dst__bad(err, at, "TENS chunk of %lu bytes, needs at least 8", (unsigned long)f->size[DST__TENS]);
    count = dst__get32(p + at);
    if (count > most) return dst__bad(err, at, "%lu tensors; a model of %d layers has at most %lu",
                                      (unsigned long)count, m->layer_count, (unsigned long)most);
    pos += 8;
    for (i = 0; i < count; ++i) {
        dst__ftensor *x = &t[i];
        size_t n, floats = 1;
        unsigned dtype, ndim;
        uint64_t dims[8], want[4], off;
        int wnd = 0, d;
        x->record_at = pos;
        if (end - pos < 2) return dst__bad(err, pos, "tensor %lu: record truncated", (unsigned long)i);
        n = dst__get16(p + pos);
        if (n < 1 || n > 255 || end - pos - 2 < n + 2)
            return dst__bad(err, pos, "tensor %lu: name of %lu bytes (1 to 255, inside the chunk)", (unsigned long)i, (unsigned long)n);
        dst__printable(name, sizeof name, p + pos + 2, n);
        if (dst__tensor_name(p + pos + 2, n, &x->layer, &x->slot) != 0)
            return dst__bad(err, pos + 2, "tensor '%s': not a name this model can have", name);
        pos += 2 + n;
        dtype = p[pos];
        ndim = p[pos + 1];
        pos += 2;
        if (dtype != DST__DTYPE_F32 && dtype != DST__DTYPE_I8 && dtype != DST__DTYPE_I32) {
            if (dtype == 2 || dtype == 3)
                return dst__err(err, DST_ERR_UNSUPPORTED, "weight file, byte %lu: tensor '%s' has dtype %u "
                                "(float16 or bfloat16); this reader reads float32, int8 and int32", (unsigned long)(pos - 2),
                                name, dtype);
            return dst__bad(err, pos - 2, "tensor '%s': unknown dtype %u", name, dtype);
        }
        if (ndim > 8) return dst__bad(err, pos - 1, "tensor '%s': %u dimensions (at most 8)", name, ndim);
        if (end - pos < 8 * (size_t)ndim + 8) return dst__bad(err, pos, "tensor '%s': record truncated", name);
        for (d = 0; d < (int)ndim; ++d) dims[d] = dst__get64(p + pos + 8 * (size_t)d);
        off = dst__get64(p + pos + 8 * (size_t)ndim);
        /* what the architecture says it must be */
        if (x->slot >= 4) {
            if (x->slot - 4 >= states && states >= 0)
                return dst__bad(err, x->record_at, "tensor '%s': the optimizer has %d state arrays", name, states);
            wnd = 1;
            want[0] = m->param_count;
        } else if (x->layer >= m->layer_count ||
                   !(wnd = dst__slot_shape(&m->layers[x->layer], x->slot, want))) {
            return dst__bad(err, x->record_at, "tensor '%s': layer %d (%s) has no %s", name, x->layer,
                            x->layer < m->layer_count ? dst_layer_name(m->layers[x->layer].desc.kind) : "beyond the last",
                            dst__slot_names[x->slot]);
        }
        /* int8 and int32: exactly an int8 layer's weight and bias (QUAN says which layers) */
        if (dtype != (x->slot < 2 && m->layers[x->layer].q_w ? (x->slot ? DST__DTYPE_I32 : DST__DTYPE_I8) : DST__DTYPE_F32))
            return dst__bad(err, pos - 2, "tensor '%s': dtype %u; %s", name, dtype,
                            x->slot < 2 && m->layers[x->layer].q_w ? "an int8 layer's weight is int8 (4), its bias int32 (5)"
                            : f->at[DST__QUAN] ? "a float layer's tensors are float32 (1)"
                            : "int8 and int32 tensors need a QUAN chunk (an int8 model, version 1.1)");
        if ((int)ndim != wnd) return dst__bad(err, pos - 1, "tensor '%s': %u dimensions, the architecture gives %d", name, ndim, wnd);
        for (d = 0; d < wnd; ++d) {
            if (dims[d] != want[d])
                return dst__bad(err, pos + 8 * (size_t)d, "tensor '%s': dimension %d is %llu, the architecture gives %llu",
                                name, d, (unsigned long long)dims[d], (unsigned long long)want[d]);
            floats *= (size_t)want[d];
        }
        x->bytes = floats * dst__dtype_bytes((int)dtype); /* bounded: the architecture's parameters fit in the file */
        if (off < (uint64_t)f->data_start || off > (uint64_t)f->len || x->bytes > f->len - (size_t)off)
            return dst__bad(err, pos + 8 * (size_t)ndim, "tensor '%s': %lu bytes at offset %llu lie outside the data "
                            "(bytes %lu to %lu)", name, (unsigned long)x->bytes, (unsigned long long)off,
                            (unsigned long)f->data_start, (unsigned long)f->len);
        if (off % dst__dtype_bytes((int)dtype))
            return dst__bad(err, pos + 8 * (size_t)ndim, "tensor '%s': offset %llu is not a multiple of %d", name,
                            (unsigned long long)off, (int)dst__dtype_bytes((int)dtype));
        x->offset = (size_t)off;
        pos += 8 * (size_t)ndim + 8;
    }
    if (pos != end) return dst__bad(err, pos, "%lu bytes after the last tensor record", (unsigned long)(end - pos));
    *nt = count;
    return DST_OK;
}


/* ---- META: key/value metadata ---- */

static size_t dst__meta_bytes(const dst_model *m)
{
    size_t n = 8;
    int i;
    for (i = 0; i < m->meta_count; ++i)
        n += 2 + strlen(m->meta[i].key) + (m->meta[i].str ? 4 + strlen(m->meta[i].str) : 8);
    return n;
}

static void dst__meta_put(dst__sink *s, const dst_model *m)
{
    unsigned char b[8];
    int k;
    dst__chunk_put(s, "META", DST__CHUNK_REQUIRED, dst__meta_bytes(m));
    memset(b, 0, 8);
    dst__put32(b, (uint32_t)m->meta_count);
    dst__sink_put(s, b, 8);
    for (k = 0; k < m->meta_count; ++k) {
        const dst__meta *e = &m->meta[k];
        size_t len = strlen(e->key);
        b[0] = e->str ? 1 : 2;
        b[1] = (unsigned char)len;
        dst__sink_put(s, b, 2);
        dst__sink_put(s, e->key, len);
        if (e->str) {
            len = strlen(e->str);
            dst__put32(b, (uint32_t)len);
            dst__sink_put(s, b, 4);
            dst__sink_put(s, e->str, len);
        } else {
            dst__putf64(b, e->num);
            dst__sink_put(s, b, 8);
        }
    }
    dst__chunk_pad(s, dst__meta_bytes(m));
}

/* META -> the model's metadata. */
static dst_result dst__meta_get(const dst__file *f, dst_model *m, dst_error *err)
{
    const unsigned char *p = f->p;
    size_t at = f->at[DST__META], end = at + f->size[DST__META], pos = at;
    uint32_t count, i;
    if (!at) return DST_OK;
    if (f->size[DST__META] < 8) return dst__bad(err, at, "META chunk of %lu bytes, needs at least 8", (unsigned long)f->size[DST__META]);
    count = dst__get32(p + at);
    if (count > DST_MAX_META || count > (f->size[DST__META] - 8) / 7)
        return dst__bad(err, at, "%lu metadata entries (at most DST_MAX_META = %d, and 7 bytes each)",
                        (unsigned long)count, DST_MAX_META);
    pos += 8;
    for (i = 0; i < count; ++i) {
        size_t e_at = pos, klen, vlen = 0;
        unsigned type;
        const unsigned char *key, *str = NULL;
        double num = 0;
        char name[64];
        dst_result r;
        if (end - pos < 2) return dst__bad(err, pos, "metadata entry %lu: truncated", (unsigned long)i);
        type = p[pos];
        klen = p[pos + 1];
        if (type != 1 && type != 2) return dst__bad(err, pos, "metadata entry %lu: unknown type %u", (unsigned long)i, type);
        if (klen < 1 || end - pos - 2 < klen) return dst__bad(err, pos + 1, "metadata entry %lu: key of %lu bytes", (unsigned long)i, (unsigned long)klen);
        key = p + pos + 2;
        pos += 2 + klen;
        dst__printable(name, sizeof name, key, klen);
        if (memchr(key, 0, klen)) return dst__bad(err, e_at + 2, "metadata key '%s' holds a NUL byte", name);
        if (type == 1) {
            if (end - pos < 4) return dst__bad(err, pos, "metadata '%s': truncated", name);
            vlen = dst__get32(p + pos);
            if (vlen > end - pos - 4) return dst__bad(err, pos, "metadata '%s': a string of %lu bytes, %lu remain", name,
                                                      (unsigned long)vlen, (unsigned long)(end - pos - 4));
            str = p + pos + 4;
            if (memchr(str, 0, vlen)) return dst__bad(err, pos + 4, "metadata '%s': the string holds a NUL byte", name);
            pos += 4 + vlen;
        } else {
            if (end - pos < 8) return dst__bad(err, pos, "metadata '%s': truncated", name);
            num = dst__getf64(p + pos);
            pos += 8;
        }
        {
            int dup;
            char k0[256];
            memcpy(k0, key, klen);
            k0[klen] = 0;
            dup = dst__meta_find(m, k0) >= 0;
            if (dup) return dst__bad(err, e_at, "metadata key '%s' appears twice", name);
        }
        if ((r = dst__meta_set(m, (const char *)key, klen, (const char *)str, vlen, num)) != DST_OK)
            return dst__err(err, r, "weight file: %s", m->error);
    }
    if (pos != end) return dst__bad(err, pos, "%lu bytes after the last metadata entry", (unsigned long)(end - pos));
    return DST_OK;
}


/* ---- TRAI: a checkpoint's training state ---- */

static void dst__train_put(dst__sink *s, const dst_model *m)
{
    const dst__fit_pos *f = &m->fit;
    unsigned char b[DST__TRAIN_RECORD];
    memset(b, 0, DST__TRAIN_RECORD);
    dst__chunk_put(s, "TRAI", 0, DST__TRAIN_RECORD);
    dst__put32(b, (uint32_t)m->has_opt);
    dst__put32(b + 4, (uint32_t)m->opt.kind);
    dst__putf32(b + 8, m->opt.lr); dst__putf32(b + 12, m->opt.momentum); dst__putf32(b + 16, m->opt.dampening);
    dst__put32(b + 20, (uint32_t)m->opt.nesterov);
    dst__putf32(b + 24, m->opt.beta1); dst__putf32(b + 28, m->opt.beta2); dst__putf32(b + 32, m->opt.eps);
    dst__putf32(b + 36, m->opt.weight_decay); dst__putf32(b + 40, m->opt.clip_norm);
    dst__putf32(b + 44, m->lr);
    dst__put64(b + 48, (uint64_t)m->step);
    dst__put64(b + 56, m->rng.state);
    dst__put64(b + 64, (uint64_t)f->epoch);
    dst__put64(b + 72, (uint64_t)f->batch);
    dst__put64(b + 80, (uint64_t)f->count);
    dst__put64(b + 88, f->seed);
    dst__put32(b + 96, (uint32_t)f->batch_size);
    dst__put32(b + 100, (uint32_t)f->no_shuffle);
    dst__putf64(b + 104, f->loss_sum);
    dst__put64(b + 112, (uint64_t)f->correct);
    dst__put64(b + 120, (uint64_t)f->seen);
    dst__sink_put(s, b, DST__TRAIN_RECORD);
    dst__chunk_pad(s, DST__TRAIN_RECORD);
}

/* TRAI -> optimizer, step, generator and fit position (checked, then applied). */
static dst_result dst__train_get(const dst__file *f, dst_model *m, int *states, dst_error *err)
{
    const unsigned char *b = f->p + f->at[DST__TRAI];
    size_t at = f->at[DST__TRAI], j;
    dst_optimizer_config o;
    dst_error e;
    uint32_t has, kind, nest, bs, nosh;
    uint64_t step, epoch, batch, count, correct, seen;
    float lr;
    if (!at) return dst__bad(err, DST__HEADER_BYTES, "no TRAI chunk: this is a weight file, not a checkpoint");
    if (f->size[DST__TRAI] < DST__TRAIN_RECORD)
        return dst__bad(err, at, "TRAI chunk of %lu bytes, needs %d", (unsigned long)f->size[DST__TRAI], DST__TRAIN_RECORD);
    for (j = DST__TRAIN_RECORD; j < f->size[DST__TRAI]; ++j)
        if (b[j]) return dst__bad(err, at + j, "TRAI sets a field this reader does not know (a newer minor version?)");
    has = dst__get32(b);
    kind = dst__get32(b + 4);
    nest = dst__get32(b + 20);
    if (has > 1 || kind > (uint32_t)DST_ADAMW || nest > 1)
        return dst__bad(err, at, "TRAI: optimizer flags %lu, kind %lu, nesterov %lu", (unsigned long)has,
                        (unsigned long)kind, (unsigned long)nest);
    o = dst_optimizer_default((dst_optimizer_kind)kind);
    o.lr = dst__getf32(b + 8); o.momentum = dst__getf32(b + 12); o.dampening = dst__getf32(b + 16);
    o.nesterov = (int)nest;
    o.beta1 = dst__getf32(b + 24); o.beta2 = dst__getf32(b + 28); o.eps = dst__getf32(b + 32);
    o.weight_decay = dst__getf32(b + 36); o.clip_norm = dst__getf32(b + 40);
    if (dst_optimizer_check(&o, &e) != DST_OK) return dst__bad(err, at + 4, "TRAI: optimizer: %s", e.message);
    lr = dst__getf32(b + 44);
    if (!(lr >= 0) || !dst__finite(lr)) return dst__bad(err, at + 44, "TRAI: learning rate %g", (double)lr);
    step = dst__get64(b + 48);
    epoch = dst__get64(b + 64);
    batch = dst__get64(b + 72);
    count = dst__get64(b + 80);
    bs = dst__get32(b + 96);
    nosh = dst__get32(b + 100);
    correct = dst__get64(b + 112);
    seen = dst__get64(b + 120);
    if (step > (uint64_t)LONG_MAX || epoch > (uint64_t)INT_MAX || count > (uint64_t)(size_t)-1 || bs > (uint32_t)INT_MAX ||
        nosh > 1 || batch > count || seen > count || correct > seen)
        return dst__bad(err, at + 48, "TRAI: step %llu, epoch %llu, batch %llu of %llu samples (batch size %lu, "
                        "%llu seen, %llu correct) is not a position", (unsigned long long)step, (unsigned long long)epoch,
                        (unsigned long long)batch, (unsigned long long)count, (unsigned long)bs,
                        (unsigned long long)seen, (unsigned long long)correct);
    m->opt = o;
    m->has_opt = (int)has;
    m->lr = lr;
    m->step = (long)step;
    m->rng.state = dst__get64(b + 56);
    m->fit.epoch = (long)epoch;
    m->fit.batch = (size_t)batch;
    m->fit.count = (size_t)count;
    m->fit.seed = dst__get64(b + 88);
    m->fit.batch_size = (int)bs;
    m->fit.no_shuffle = (int)nosh;
    m->fit.loss_sum = dst__getf64(b + 104);
    m->fit.correct = (size_t)correct;
    m->fit.seen = (size_t)seen;
    *states = has ? dst_optimizer_state_count(&o) : 0;
    return DST_OK;
}


/* ---- QUAN: an int8 model's scales and zero points (version 1.1) ---- */

static size_t dst__quan_bytes(const dst_model *m)
{
    size_t n = 16 + 16 * (size_t)m->layer_count;
    int i;
    for (i = 0; i < m->layer_count; ++i)
        if (m->layers[i].q_w) n += 4 * (size_t)m->layers[i].desc.units;
    return n;
}

static void dst__quan_put(dst__sink *s, const dst_model *m)
{
    unsigned char b[16];
    int i, o;
    dst__chunk_put(s, "QUAN", DST__CHUNK_REQUIRED, dst__quan_bytes(m));
    dst__put32(b, (uint32_t)m->layer_count);
    dst__put32(b + 4, 0);
    dst__putf32(b + 8, m->q_in_scale);
    dst__put32(b + 12, (uint32_t)m->q_in_zero);
    dst__sink_put(s, b, 16);
    for (i = 0; i < m->layer_count; ++i) {
        const dst__layer *ly = &m->layers[i];
        dst__putf32(b, ly->q_scale);
        dst__put32(b + 4, (uint32_t)ly->q_zero);
        dst__put32(b + 8, ly->q_w ? 1u : 0u);
        dst__put32(b + 12, 0);
        dst__sink_put(s, b, 16);
    }
    for (i = 0; i < m->layer_count; ++i)
        for (o = 0; m->layers[i].q_w && o < m->layers[i].desc.units; ++o) {
            dst__putf32(b, m->layers[i].q_w_scale[o]);
            dst__sink_put(s, b, 4);
        }
    dst__chunk_pad(s, dst__quan_bytes(m));
}

/* one scale and zero point of QUAN at byte at (scale finite and > 0, zero in [0, 255]) */
static dst_result dst__quan_pair(const unsigned char *p, size_t at, const char *what, float *scale, int32_t *zero,
                                 dst_error *err)
{
    float sc = dst__getf32(p + at);
    uint32_t z = dst__get32(p + at + 4);
    if (!(dst__finite(sc) && sc > 0)) return dst__bad(err, at, "QUAN: %s scale %g, must be finite and > 0", what, (double)sc);
    if (z > 255) return dst__bad(err, at + 4, "QUAN: %s zero point %lu, must be in [0, 255]", what, (unsigned long)z);
    *scale = sc;
    *zero = (int32_t)z;
    return DST_OK;
}

/* Reads QUAN into the model built from ARCH: the input's and every layer's
   scale and zero point, which layers have int8 weights (exactly those
   dst_model_quantize gives them) and their per-channel scales, into the
   int8 block it allocates. The weights themselves come with the tensors. */
static dst_result dst__quan_get(const dst__file *f, dst_model *m, dst_error *err)
{
    const unsigned char *p = f->p;
    size_t at = f->at[DST__QUAN], left = f->size[DST__QUAN], pos;
    int i, o;
    dst_result r;
    if (left < 16 || dst__get32(p + at) != (uint32_t)m->layer_count || dst__get32(p + at + 4) != 0)
        return dst__bad(err, at, "QUAN: %lu bytes for a model of %d layers", (unsigned long)left, m->layer_count);
    if ((r = dst__quan_pair(p, at + 8, "the input's", &m->q_in_scale, &m->q_in_zero, err)) != DST_OK) return r;
    if ((left - 16) / 16 < (size_t)m->layer_count)
        return dst__bad(err, at, "QUAN: %lu bytes cannot hold %d layer records", (unsigned long)left, m->layer_count);
    left -= 16 + 16 * (size_t)m->layer_count;
    for (i = 0, pos = at + 16; i < m->layer_count; ++i, pos += 16) {
        dst__layer *ly = &m->layers[i];
        uint32_t q = dst__get32(p + pos + 8);
        char what[32];
        sprintf(what, "layer %d's", i);
        if ((r = dst__quan_pair(p, pos, what, &ly->q_scale, &ly->q_zero, err)) != DST_OK) return r;
        if (q > 1 || dst__get32(p + pos + 12) != 0 || (int)q != dst__q8_weighted(ly))
            return dst__bad(err, pos + 8, "QUAN: layer %d (%s): int8 weights %lu, must be %d", i,
                            dst_layer_name(ly->desc.kind), (unsigned long)q, dst__q8_weighted(ly));
        if (q && left / 4 < (size_t)ly->desc.units)
            return dst__bad(err, pos, "QUAN: the weight scales of layer %d run past the chunk", i);
        if (q) left -= 4 * (size_t)ly->desc.units;
    }
    if (left) return dst__bad(err, pos, "QUAN: %lu bytes after the last weight scale", (unsigned long)left);
    if ((r = dst__q8_alloc(m, err)) != DST_OK) return r;
    for (i = 0; i < m->layer_count; ++i)
        for (o = 0; m->layers[i].q_w && o < m->layers[i].desc.units; ++o, pos += 4) {
            float sc = dst__getf32(p + pos);
            if (!(dst__finite(sc) && sc > 0))
                return dst__bad(err, pos, "QUAN: layer %d, channel %d: weight scale %g, must be finite and > 0", i, o,
                                (double)sc);
            m->layers[i].q_w_scale[o] = sc;
        }
    return DST_OK;
}

/* ---- tensor data: little-endian float32 at the offsets TENS gives ---- */

static void dst__floats_put(dst__sink *s, const float *v, size_t n)
{
    size_t i;
    if (!v) { dst__sink_zeros(s, n * sizeof(float)); return; }
    if (dst__host_little_endian()) { dst__sink_put(s, v, n * sizeof(float)); return; }
    for (i = 0; i < n; ++i) {
        unsigned char b[4];
        dst__putf32(b, v[i]);
        dst__sink_put(s, b, 4);
    }
}

static void dst__floats_get(float *out, const unsigned char *p, size_t n)
{
    size_t i;
    if (dst__host_little_endian()) { memcpy(out, p, n * sizeof(float)); return; }
    for (i = 0; i < n; ++i) out[i] = dst__getf32(p + 4 * i);
}

/* In offset order (the table is built in that order), zeros in the gaps. */
static void dst__data_put(dst__sink *s, const dst__tensor *t, size_t nt, size_t file_end)
{
    size_t i, j, pos = s->count; /* the header included */
    for (i = 0; i < nt; ++i) {
        dst__sink_zeros(s, t[i].offset - pos);
        if (t[i].dtype == DST__DTYPE_I8) {
            dst__sink_put(s, t[i].raw, t[i].count);
        } else if (t[i].dtype == DST__DTYPE_I32) {
            for (j = 0; j < t[i].count; ++j) {
                unsigned char b[4];
                dst__put32(b, (uint32_t)((const int32_t *)t[i].raw)[j]);
                dst__sink_put(s, b, 4);
            }
        } else {
            dst__floats_put(s, t[i].data, t[i].count);
        }
        pos = t[i].offset + t[i].count * dst__dtype_bytes(t[i].dtype);
    }
    dst__sink_zeros(s, file_end - pos); /* the padding of the last parameter block */
}

/* Copies the checked tensors into the model's own blocks (a checkpoint's
   optimizer states too). */
static void dst__data_get(const dst__file *f, dst_model *m, const dst__ftensor *t, size_t nt, int checkpoint)
{
    size_t i;
    for (i = 0; i < nt; ++i) {
        float *to;
        if (t[i].slot >= 4) {
            if (!checkpoint) continue;
            to = t[i].slot == 4 ? m->state0 : m->state1;
        } else if (t[i].slot < 2 && m->layers[t[i].layer].q_w) { /* int8 weight, int32 bias */
            const dst__layer *ly = &m->layers[t[i].layer];
            size_t j;
            if (t[i].slot == DST__SLOT_WEIGHT) memcpy(ly->q_w, f->p + t[i].offset, t[i].bytes);
            else for (j = 0; j < ly->bias_count; ++j) ly->q_b[j] = (int32_t)dst__get32(f->p + t[i].offset + 4 * j);
            continue;
        } else {
            to = (float *)dst__slot_data(m, &m->layers[t[i].layer], t[i].slot);
        }
        dst__floats_get(to, f->p + t[i].offset, t[i].bytes / sizeof(float));
    }
}

/* ---- writing a whole file ---- */

/* Everything after the 32-byte header. */
static void dst__body_put(dst__sink *s, const dst_model *m, int checkpoint, const dst__tensor *t, size_t nt,
                          size_t file_end)
{
    dst__arch_put(s, m);
    dst__tens_put(s, t, nt);
    dst__meta_put(s, m);
    if (checkpoint) dst__train_put(s, m);
    if (m->q8) dst__quan_put(s, m);
    dst__data_put(s, t, nt, file_end);
}

/* Into one block (mem): allocated once the size is known, after the checksum pass. */
typedef struct dst__membuf { unsigned char *p; size_t len, cap; } dst__membuf;

static int dst__membuf_write(void *user, const void *data, size_t len)
{
    dst__membuf *b = (dst__membuf *)user;
    if (len > b->cap - b->len) return 1;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

/* The whole save: through write(user), or with mem != NULL into a block of its own. */
static dst_result dst__write_file(const dst_model *m, int checkpoint, dst_write_fn write, void *user, dst__membuf *mem,
                               dst_error *err)
{
    dst__tensor *t;
    dst__sink *s;
    size_t nt, chunks_end, file_end;
    unsigned char h[DST__HEADER_BYTES];
    int failed;
    dst__err_clear(err);
    if (!m) return dst__err(err, DST_ERR_ARG, "model is NULL");
    if (!write && !mem) return dst__err(err, DST_ERR_ARG, "write callback is NULL");
    if (m->q8 && checkpoint) return dst__err(err, DST_ERR_ARG, "save: an int8 model has no checkpoint (it does not train)");
    nt = dst__model_tensors(m, checkpoint, 0, NULL, NULL);
    t = (dst__tensor *)DST_MALLOC((nt ? nt : 1) * sizeof *t, m->alloc_user);
    s = (dst__sink *)DST_MALLOC(sizeof *s, m->alloc_user);
    if (!t || !s) {
        DST_FREE(t, m->alloc_user);
        DST_FREE(s, m->alloc_user);
        return dst__err(err, DST_ERR_NOMEM, "save: tensor table");
    }
    /* the data starts after the chunks, whose sizes do not depend on the offsets' values */
    dst__model_tensors(m, checkpoint, 0, t, NULL);
    chunks_end = DST__HEADER_BYTES + 16 + dst__round_up(dst__arch_bytes(m), 8) + 16 +
                 dst__round_up(dst__tens_bytes(t, nt), 8) + 16 + dst__round_up(dst__meta_bytes(m), 8) +
                 (checkpoint ? 16 + DST__TRAIN_RECORD : 0) + (m->q8 ? 16 + dst__round_up(dst__quan_bytes(m), 8) : 0);
    dst__model_tensors(m, checkpoint, dst__round_up(chunks_end, 64), t, &file_end);
    /* pass 1: the checksum of the body; pass 2: header and body through the callback */
    memset(s, 0, sizeof *s);
    s->count = DST__HEADER_BYTES; /* counted, not checksummed */
    dst__body_put(s, m, checkpoint, t, nt, file_end);
    DST_ASSERT(s->count == file_end);
    dst__header_put(h, checkpoint, m->q8, file_end, s->crc);
    memset(s, 0, sizeof *s);
    s->write = write;
    s->user = user;
    if (mem) {
        mem->len = 0;
        mem->cap = file_end;
        if (!(mem->p = (unsigned char *)DST_MALLOC(file_end, NULL))) { /* dst_free releases it */
            DST_FREE(t, m->alloc_user);
            DST_FREE(s, m->alloc_user);
            return dst__err(err, DST_ERR_NOMEM, "save: %lu bytes", (unsigned long)file_end);
        }
        s->write = dst__membuf_write;
        s->user = mem;
    }
    dst__sink_put(s, h, DST__HEADER_BYTES);
    dst__body_put(s, m, checkpoint, t, nt, file_end);
    dst__sink_flush(s);
    failed = s->failed;
    DST_FREE(t, m->alloc_user);
    DST_FREE(s, m->alloc_user);
    return failed ? dst__err(err, DST_ERR_IO, "save: the write callback failed") : DST_OK;
}

DSTDEF dst_result dst_model_write(const dst_model *m, dst_write_fn write, void *user, dst_error *err)
{
    return dst__write_file(m, 0, write, user, NULL, err);
}

#ifndef DST_INFERENCE_ONLY
DSTDEF dst_result dst_model_write_checkpoint(const dst_model *m, dst_write_fn write, void *user, dst_error *err)
{
    return dst__write_file(m, 1, write, user, NULL, err);
}
#endif

static dst_result dst__write_memory(const dst_model *m, int checkpoint, unsigned char **buf, size_t *len, dst_error *err)
{
    dst__membuf b;
    dst_result r;
    dst__err_clear(err);
    if (!buf || !len) return dst__err(err, DST_ERR_ARG, "buf or len is NULL");
    *buf = NULL;
    *len = 0;
    b.p = NULL;
    if ((r = dst__write_file(m, checkpoint, NULL, NULL, &b, err)) != DST_OK) {
        DST_FREE(b.p, NULL);
        return r;
    }
    *buf = b.p;
    *len = b.len;
    return DST_OK;
}

DSTDEF dst_result dst_model_write_memory(const dst_model *m, unsigned char **buf, size_t *len, dst_error *err)
{
    return dst__write_memory(m, 0, buf, len, err);
}

#ifndef DST_INFERENCE_ONLY
DSTDEF dst_result dst_model_write_checkpoint_memory(const dst_model *m, unsigned char **buf, size_t *len,
                                                    dst_error *err)
{
    return dst__write_memory(m, 1, buf, len, err);
}
#endif

/* ---- reading a whole file ---- */

DSTDEF dst_load_options dst_load_options_default(void)
{
    dst_load_options o;
    memset(&o, 0, sizeof o);
    o.max_layers = DST_MAX_LAYERS;
    o.max_param_bytes = (size_t)-1;
    o.in_place = 1;
    return o;
}

static dst_result dst__load_options_check(const dst_load_options *o, dst_error *err)
{
    if (!o) return dst__err(err, DST_ERR_ARG, "load options are NULL (dst_load_options_default() gives the defaults)");
    if (o->max_layers < 1 || o->max_layers > DST_MAX_LAYERS)
        return dst__err(err, DST_ERR_ARG, "load options: max_layers %d, must be 1 to DST_MAX_LAYERS (%d)", o->max_layers,
                        DST_MAX_LAYERS);
    if ((o->in_place != 0 && o->in_place != 1) || (o->checkpoint != 0 && o->checkpoint != 1))
        return dst__err(err, DST_ERR_ARG, "load options: in_place %d and checkpoint %d must each be 0 or 1", o->in_place,
                        o->checkpoint);
    return DST_OK;
}

/* Header, chunks and ARCH -> a model with the file's architecture and no
   parameter blocks yet, allocating through the options' context. */
static dst_result dst__load_model(dst__file *f, const unsigned char *p, size_t len, const dst_load_options *opt,
                                  dst_model **out, dst_error *err)
{
    dst_model_desc desc = dst_model_desc_default();
    dst_layer_desc *layers = NULL;
    dst_result r;
    if ((r = dst__header_get(f, p, len, err)) != DST_OK || (r = dst__chunks_get(f, err)) != DST_OK ||
        (r = dst__arch_get(f, opt, &desc, &layers, err)) != DST_OK)
        return r;
    r = dst__model_create(out, &desc, 1, err);
    DST_FREE(layers, opt->alloc_user);
    if (r == DST_OK) (*out)->seed = desc.seed;
    else if (r != DST_ERR_NOMEM)
        r = dst__bad(err, f->at[DST__ARCH], "%s", err ? err->message : "the architecture cannot be built");
    return r;
}

/* The slot of a tensor in a table of 4 per layer, then the optimizer's states. */
static size_t dst__ftensor_slot(const dst_model *m, const dst__ftensor *x)
{
    return x->slot >= 4 ? 4 * (size_t)m->layer_count + (size_t)(x->slot - 4) : 4 * (size_t)x->layer + (size_t)x->slot;
}

static int dst__ftensor_cmp(const void *a, const void *b)
{
    size_t x = ((const dst__ftensor *)a)->offset, y = ((const dst__ftensor *)b)->offset;
    return x < y ? -1 : x > y;
}

/* Each tensor once, every tensor the model has present, no two sharing a
   byte; then t is in offset order and by[slot] points at each. */
static dst_result dst__load_index(const dst__file *f, const dst_model *m, int states, dst__ftensor *t, size_t nt,
                                  dst__ftensor **by, dst_error *err)
{
    size_t i, layer_slots = 4 * (size_t)m->layer_count, slots = layer_slots + 2;
    memset(by, 0, slots * sizeof *by);
    for (i = 0; i < nt; ++i) {
        size_t k = dst__ftensor_slot(m, &t[i]);
        if (!by[k]) { by[k] = &t[i]; continue; }
        if (t[i].slot >= 4) return dst__bad(err, t[i].record_at, "tensor 'optimizer.state%d' appears twice", t[i].slot - 4);
        return dst__bad(err, t[i].record_at, "tensor '%d.%s' appears twice", t[i].layer, dst__slot_names[t[i].slot]);
    }
    for (i = 0; i < slots; ++i) {
        uint64_t dims[4];
        int layer = (int)(i / 4), slot = (int)(i % 4);
        int needed = i < layer_slots ? dst__slot_shape(&m->layers[layer], slot, dims) != 0
                                     : (int)(i - layer_slots) < (states > 0 ? states : 0);
        if (!needed || by[i]) continue;
        if (i < layer_slots) return dst__bad(err, f->at[DST__TENS], "tensor '%d.%s' is missing", layer, dst__slot_names[slot]);
        return dst__bad(err, f->at[DST__TENS], "tensor 'optimizer.state%d' is missing", (int)(i - layer_slots));
    }
    qsort(t, nt, sizeof *t, dst__ftensor_cmp);
    for (i = 1; i < nt; ++i)
        if (t[i].offset < t[i - 1].offset + t[i - 1].bytes)
            return dst__bad(err, t[i].offset, "the data of tensors at offsets %lu and %lu overlap",
                            (unsigned long)t[i - 1].offset, (unsigned long)t[i].offset);
    memset(by, 0, slots * sizeof *by);
    for (i = 0; i < nt; ++i) by[dst__ftensor_slot(m, &t[i])] = &t[i];
    return DST_OK;
}

/* A tensor want bytes into its block (parameters or statistics): the first
   one fixes where the block starts in the file (*at; 1 when it cannot),
   the others must agree. */
static int dst__in_place_block(const dst__ftensor *x, size_t want, size_t *at)
{
    if (!*at) *at = x->offset >= want ? x->offset - want : 1;
    return x->offset == *at + want;
}

/* The block of n floats at file byte at lies in the file, 64-byte aligned in memory. */
static int dst__in_place_fits(const dst__file *f, size_t at, size_t n)
{
    return at && at <= f->len && n * sizeof(float) <= f->len - at && ((uintptr_t)(f->p + at) & 63) == 0;
}

/* Points the model's parameters (and running statistics) into the file
   when every tensor sits where the model's own layout puts it; 0 if not. */
static int dst__load_in_place(const dst__file *f, dst_model *m, dst__ftensor *const *by)
{
    size_t i, params_at = 0, buffers_at = 0;
    if (!dst__host_little_endian() || m->param_count == 0) return 0;
    for (i = 0; i < 4 * (size_t)m->layer_count; ++i) {
        const dst__layer *ly = &m->layers[i / 4];
        size_t want;
        if (!by[i]) continue;
        switch (i % 4) {
        case DST__SLOT_WEIGHT: want = ly->param_offset; break;
        case DST__SLOT_BIAS: want = ly->param_offset + ly->weight_count; break;
        case DST__SLOT_MEAN: want = ly->buffer_offset; break;
        default: want = ly->buffer_offset + ly->buffer_count / 2; break;
        }
        if (!dst__in_place_block(by[i], want * sizeof(float), i % 4 < 2 ? &params_at : &buffers_at)) return 0;
    }
    if (!dst__in_place_fits(f, params_at, m->param_count) ||
        (m->buffer_count && !dst__in_place_fits(f, buffers_at, m->buffer_count)))
        return 0;
    m->params = (float *)(uintptr_t)(f->p + params_at);
    if (m->buffer_count) m->buffers = (float *)(uintptr_t)(f->p + buffers_at);
    /* grads, states and buffers_saved stay NULL: a train step makes its own copy first */
    return 1;
}

/* The whole load, in its steps. */
static dst_result dst__parse_file(dst_model **out, const unsigned char *p, size_t len, const dst_load_options *opt,
                            dst_error *err)
{
    dst__file f;
    dst_model *m = NULL;
    dst__ftensor *t = NULL, **by = NULL;
    size_t nt = 0, slots;
    int states = -1;
    dst_result r;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    *out = NULL;
    if (!p) return dst__err(err, DST_ERR_ARG, "buffer is NULL");
    if ((r = dst__load_options_check(opt, err)) != DST_OK) return r;
    if ((r = dst__load_model(&f, p, len, opt, &m, err)) != DST_OK) return r;
    if (f.at[DST__QUAN] && opt->checkpoint) {
        r = dst__bad(err, f.at[DST__QUAN] - 16, "an int8 model (QUAN) is not a checkpoint: load it as a model");
        goto done;
    }
    if (f.at[DST__QUAN] && (r = dst__quan_get(&f, m, err)) != DST_OK) goto done;
    if (opt->checkpoint && (r = dst__train_get(&f, m, &states, err)) != DST_OK) goto done;
    slots = 4 * (size_t)m->layer_count + 2;
    t = (dst__ftensor *)DST_MALLOC(slots * sizeof *t, m->alloc_user);
    by = (dst__ftensor **)DST_MALLOC(slots * sizeof *by, m->alloc_user);
    if (!t || !by) { r = dst__err(err, DST_ERR_NOMEM, "weight file: tensor table"); goto done; }
    if ((r = dst__tens_get(&f, m, states, t, &nt, err)) != DST_OK ||
        (r = dst__load_index(&f, m, states, t, nt, by, err)) != DST_OK)
        goto done;
    /* a checkpoint is for training: always copied; an int8 model too (its
       float parameters are rebuilt from the integers) */
    if (!(opt->in_place && !opt->checkpoint && !f.at[DST__QUAN] && dst__load_in_place(&f, m, by))) {
        if ((r = dst__model_own(m)) != DST_OK) { dst__err(err, r, "weight file: %s", m->error); goto done; }
        dst__data_get(&f, m, t, nt, opt->checkpoint);
        if (f.at[DST__QUAN]) dst__q8_finish(m);
    }
    r = dst__meta_get(&f, m, err);
done:
    DST_FREE(t, m->alloc_user);
    DST_FREE(by, m->alloc_user);
    if (r == DST_OK) *out = m;
    else dst_model_free(m);
    return r;
}

DSTDEF dst_result dst_model_parse_with(dst_model **out, const void *buf, size_t len, const dst_load_options *opt,
                                       dst_error *err)
{
    return dst__parse_file(out, (const unsigned char *)buf, len, opt, err);
}

DSTDEF dst_result dst_model_parse(dst_model **out, const void *buf, size_t len, dst_error *err)
{
    dst_load_options o = dst_load_options_default();
    return dst__parse_file(out, (const unsigned char *)buf, len, &o, err);
}

#ifndef DST_INFERENCE_ONLY
DSTDEF dst_result dst_model_parse_checkpoint(dst_model **out, const void *buf, size_t len, dst_error *err)
{
    dst_load_options o = dst_load_options_default();
    o.checkpoint = 1;
    return dst__parse_file(out, (const unsigned char *)buf, len, &o, err);
}
#endif

/* ---- paths: loading, and saving atomically ---- */

#ifndef DST_NO_STDIO
static dst_result dst__read_file(const char *path, unsigned char **out, size_t *out_len, void *ctx, dst_error *err);

/* err->message = prefix + ": " + message + suffix, cut to fit. */
static void dst__err_wrap(dst_error *err, const char *prefix, const char *suffix)
{
    char msg[256], *o;
    size_t room = sizeof msg - 1, k;
    const char *parts[3];
    int i;
    if (!err) return;
    memcpy(msg, err->message, sizeof msg);
    msg[255] = 0;
    parts[0] = prefix; parts[1] = msg; parts[2] = suffix;
    o = err->message;
    for (i = 0; i < 3; ++i) {
        k = strlen(parts[i]);
        if (k > room) k = room;
        memcpy(o, parts[i], k);
        o += k;
        room -= k;
        if (i == 0 && room >= 2) { memcpy(o, ": ", 2); o += 2; room -= 2; }
    }
    *o = 0;
}

/* Reads the file into memory and parses it from there (copied: the file's
   buffer goes away). */
DSTDEF dst_result dst_model_load_with(dst_model **out, const char *path, const dst_load_options *opt, dst_error *err)
{
    unsigned char *buf;
    size_t len;
    dst_load_options o;
    dst_result r;
    dst__err_clear(err);
    if (out) *out = NULL;
    if (!out || !path) return dst__err(err, DST_ERR_ARG, "out or path is NULL");
    if ((r = dst__load_options_check(opt, err)) != DST_OK) return r;
    o = *opt;
    o.in_place = 0;
    if ((r = dst__read_file(path, &buf, &len, o.alloc_user, err)) != DST_OK) return r;
    r = dst__parse_file(out, buf, len, &o, err);
    DST_FREE(buf, o.alloc_user);
    if (r == DST_ERR_FORMAT || r == DST_ERR_UNSUPPORTED) dst__err_wrap(err, path, "");
    return r;
}

DSTDEF dst_result dst_model_load(dst_model **out, const char *path, dst_error *err)
{
    dst_load_options o = dst_load_options_default();
    return dst_model_load_with(out, path, &o, err);
}

#ifndef DST_INFERENCE_ONLY
DSTDEF dst_result dst_model_load_checkpoint(dst_model **out, const char *path, dst_error *err)
{
    dst_load_options o = dst_load_options_default();
    o.checkpoint = 1;
    return dst_model_load_with(out, path, &o, err);
}
#endif

/* Writes a file through a dst_write_fn into "<path>.tmp" beside the target,
   flushes it (fsync where available) and renames it over path; on any
   failure the previous file at path is untouched and the temporary file
   removed. emit(what, write, user, err) produces the bytes. The weight file
   and .npy arrays are saved through it. */
typedef dst_result (*dst__emit_fn)(const void *what, dst_write_fn write, void *user, dst_error *err);

#ifdef DST__POSIX_FILES
static int dst__fd_write(void *user, const void *data, size_t len)
{
    int fd = *(int *)user;
    const char *c = (const char *)data;
    while (len) {
        ssize_t n = write(fd, c, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 1;
        c += n;
        len -= (size_t)n;
    }
    return 0;
}
#else
static int dst__stdio_write(void *user, const void *data, size_t len)
{
    return fwrite(data, 1, len, (FILE *)user) != len;
}
#endif

/* Writes the temporary file tmp: 1 when it is complete and flushed, 0 when
   it is not, -1 when it could not be created. *r gets emit's result. */
static int dst__save_tmp(const char *tmp, dst__emit_fn emit, const void *what, dst_result *r, dst_error *err)
{
    int ok;
#ifdef DST__POSIX_FILES
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) { *r = dst__err(err, DST_ERR_IO, "save: cannot create %s", tmp); return -1; }
    *r = emit(what, dst__fd_write, &fd, err);
    ok = *r == DST_OK && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
#else
    FILE *fp = fopen(tmp, "wb");
    if (!fp) { *r = dst__err(err, DST_ERR_IO, "save: cannot create %s", tmp); return -1; }
    *r = emit(what, dst__stdio_write, fp, err);
    ok = *r == DST_OK && fflush(fp) == 0;
    ok = fclose(fp) == 0 && ok;
#endif
    return ok;
}

static dst_result dst__save_atomic(const char *path, dst__emit_fn emit, const void *what, dst_error *err)
{
    char *tmp;
    size_t n = strlen(path);
    dst_result r;
    int ok;
    if (!(tmp = (char *)DST_MALLOC(n + 5, NULL))) return dst__err(err, DST_ERR_NOMEM, "save: path");
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    if ((ok = dst__save_tmp(tmp, emit, what, &r, err)) < 0) {
        DST_FREE(tmp, NULL);
        return r;
    }
    if (!ok) {
        remove(tmp);
        if (r == DST_OK) r = dst__err(err, DST_ERR_IO, "save: writing %s failed (disk full?); %s is unchanged", tmp, path);
        else dst__err_wrap(err, path, "; the previous file is unchanged");
        DST_FREE(tmp, NULL);
        return r;
    }
    /* Windows' rename() refuses an existing target; MoveFileExA replaces it
       (and fails while another program holds it open) */
#if defined(_WIN32)
    ok = MoveFileExA(tmp, path, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) != 0;
#else
    ok = rename(tmp, path) == 0;
#endif
    if (!ok) {
        remove(tmp);
        r = dst__err(err, DST_ERR_IO, "save: cannot rename %s to %s; %s is unchanged", tmp, path, path);
        DST_FREE(tmp, NULL);
        return r;
    }
#ifdef DST__POSIX_FILES
    {
        /* make the rename itself durable: fsync the directory */
        char *slash = strrchr(tmp, '/');
        int dfd;
        if (slash) { *slash = 0; dfd = open(slash == tmp ? "/" : tmp, O_RDONLY); }
        else dfd = open(".", O_RDONLY);
        if (dfd >= 0) { fsync(dfd); close(dfd); }
    }
#endif
    DST_FREE(tmp, NULL);
    return DST_OK;
}

typedef struct dst__model_save { const dst_model *m; int checkpoint; } dst__model_save;

static dst_result dst__model_emit(const void *what, dst_write_fn write, void *user, dst_error *err)
{
    const dst__model_save *a = (const dst__model_save *)what;
    return dst__write_file(a->m, a->checkpoint, write, user, NULL, err);
}

static dst_result dst__save_path(const dst_model *m, const char *path, int checkpoint, dst_error *err)
{
    dst__model_save a;
    dst__err_clear(err);
    if (!m || !path) return dst__err(err, DST_ERR_ARG, "model or path is NULL");
    a.m = m;
    a.checkpoint = checkpoint;
    return dst__save_atomic(path, dst__model_emit, &a, err);
}

DSTDEF dst_result dst_model_save(const dst_model *m, const char *path, dst_error *err)
{
    return dst__save_path(m, path, 0, err);
}

#ifndef DST_INFERENCE_ONLY
DSTDEF dst_result dst_model_save_checkpoint(const dst_model *m, const char *path, dst_error *err)
{
    return dst__save_path(m, path, 1, err);
}
#endif
#endif /* DST_NO_STDIO */

/* ==== data: IDX and MNIST ======================================== >>data */

#ifndef DST_INFERENCE_ONLY /* IDX files */
static uint32_t dst__be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Element sizes of the IDX type codes; 0 for codes that do not exist. */
static size_t dst__idx_elem_size(int type)
{
    switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    }
    return 0;
}

static float dst__idx_value(const unsigned char *p, int type)
{
    uint32_t u;
    switch (type) {
    case 0x08: return (float)p[0];
    case 0x09: return (float)(signed char)p[0];
    case 0x0B: return (float)(int16_t)(uint16_t)((p[0] << 8) | p[1]);
    case 0x0C: return (float)(int32_t)dst__be32(p);
    case 0x0D: { float f; u = dst__be32(p); memcpy(&f, &u, 4); return f; }
    default: {
        uint64_t v = ((uint64_t)dst__be32(p) << 32) | dst__be32(p + 4);
        double d;
        memcpy(&d, &v, 8);
        return (float)d;
    }
    }
}

#endif
#ifndef DST_INFERENCE_ONLY /* IDX / MNIST data */
DSTDEF dst_result dst_idx_parse(const void *buf, size_t len, dst_idx *out, dst_error *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t count = 1, elem, bytes, i;
    int type, ndim, d;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!buf) return dst__err(err, DST_ERR_ARG, "buffer is NULL");
    if (len < 4) return dst__err(err, DST_ERR_FORMAT, "IDX: %lu bytes, too short for the 4-byte magic", (unsigned long)len);
    if (p[0] != 0 || p[1] != 0)
        return dst__err(err, DST_ERR_FORMAT, "IDX: magic starts %02x %02x, expected 00 00 (is it still gzip'ed?)", p[0], p[1]);
    type = p[2];
    ndim = p[3];
    if (!(elem = dst__idx_elem_size(type)))
        return dst__err(err, DST_ERR_FORMAT, "IDX: unknown element type 0x%02x", type);
    if (ndim < 1 || ndim > DST_IDX_MAX_DIMS)
        return dst__err(err, DST_ERR_FORMAT, "IDX: %d dimensions, expected 1 to %d", ndim, DST_IDX_MAX_DIMS);
    if (len - 4 < (size_t)ndim * 4)
        return dst__err(err, DST_ERR_FORMAT, "IDX: truncated in the dimension list");
    for (d = 0; d < ndim; ++d) {
        uint32_t v = dst__be32(p + 4 + 4 * d);
        if (v == 0 || v > INT_MAX) return dst__err(err, DST_ERR_FORMAT, "IDX: dimension %d is %lu", d, (unsigned long)v);
        if (!dst__mul_ok(count, v, &count)) return dst__err(err, DST_ERR_FORMAT, "IDX: element count overflows");
        out->dims[d] = (int)v;
    }
    if (!dst__mul_ok(count, elem, &bytes) || bytes > len - 4 - 4 * (size_t)ndim)
        return dst__err(err, DST_ERR_FORMAT, "IDX: header promises %lu elements of %lu bytes, the data holds %lu bytes",
                        (unsigned long)count, (unsigned long)elem, (unsigned long)(len - 4 - 4 * (size_t)ndim));
    if (!dst__mul_ok(count, sizeof(float), &bytes) || !(out->data = (float *)DST_MALLOC(bytes, NULL)))
        return dst__err(err, DST_ERR_NOMEM, "IDX: %lu floats", (unsigned long)count);
    p += 4 + 4 * (size_t)ndim;
    for (i = 0; i < count; ++i) out->data[i] = dst__idx_value(p + i * elem, type);
    out->type = type;
    out->ndim = ndim;
    out->count = count;
    return DST_OK;
}

DSTDEF void dst_idx_free(dst_idx *idx)
{
    if (!idx) return;
    DST_FREE(idx->data, NULL);
    memset(idx, 0, sizeof *idx);
}

#endif /* DST_INFERENCE_ONLY */

DSTDEF dst_result dst_gunzip(const void *buf, size_t len, unsigned char **out, size_t *out_len, dst_error *err)
{
#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(STBI_NO_ZLIB)
    const unsigned char *p = (const unsigned char *)buf;
    size_t pos = 10;
    int flags, n = 0;
    char *raw;
    dst__err_clear(err);
    if (!buf || !out || !out_len) return dst__err(err, DST_ERR_ARG, "gunzip: NULL argument");
    *out = NULL;
    *out_len = 0;
    if (len < 18 || p[0] != 0x1f || p[1] != 0x8b)
        return dst__err(err, DST_ERR_FORMAT, "gzip: not a gzip stream (magic or length)");
    if (p[2] != 8) return dst__err(err, DST_ERR_FORMAT, "gzip: compression method %d, only deflate (8) exists", p[2]);
    flags = p[3];
    if (flags & 0xE0) return dst__err(err, DST_ERR_FORMAT, "gzip: reserved flag bits set");
    if (flags & 4) { /* FEXTRA */
        if (len - pos < 2) return dst__err(err, DST_ERR_FORMAT, "gzip: truncated extra field");
        pos += 2 + (size_t)(p[pos] | (p[pos + 1] << 8));
    }
    if (flags & 8) { while (pos < len && p[pos]) ++pos; ++pos; }  /* FNAME */
    if (flags & 16) { while (pos < len && p[pos]) ++pos; ++pos; } /* FCOMMENT */
    if (flags & 2) pos += 2;                                       /* FHCRC */
    if (pos > len || len - pos < 8) return dst__err(err, DST_ERR_FORMAT, "gzip: truncated header");
    if (len - pos > INT_MAX) return dst__err(err, DST_ERR_FORMAT, "gzip: stream over 2 GiB");
    /* the 8-byte trailer stays in the buffer: stb's decoder looks ahead a
       little past the last code and fails without that slack */
    raw = stbi_zlib_decode_noheader_malloc((const char *)p + pos, (int)(len - pos), &n);
    if (!raw) return dst__err(err, DST_ERR_FORMAT, "gzip: deflate data is corrupt or truncated (%s)", stbi_failure_reason());
    if (dst__get32(p + len - 4) != (uint32_t)n || dst_crc32(0, raw, (size_t)n) != dst__get32(p + len - 8)) {
        stbi_image_free(raw);
        return dst__err(err, DST_ERR_FORMAT, "gzip: CRC32 or length check failed (corrupt file)");
    }
    /* hand the caller memory from our allocator */
    *out = (unsigned char *)DST_MALLOC((size_t)n ? (size_t)n : 1, NULL);
    if (!*out) { stbi_image_free(raw); return dst__err(err, DST_ERR_NOMEM, "gzip: %d bytes", n); }
    memcpy(*out, raw, (size_t)n);
    stbi_image_free(raw);
    *out_len = (size_t)n;
    return DST_OK;
#else
    (void)buf; (void)len;
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    return dst__err(err, DST_ERR_UNSUPPORTED,
                    "gzip needs stb_image.h: #include it (and define STB_IMAGE_IMPLEMENTATION in one file) "
                    "before distill.h's implementation, or gunzip the file first");
#endif
}

#ifndef DST_NO_STDIO
/* Reads a whole file into memory from our allocator (with context ctx). */
static dst_result dst__read_file(const char *path, unsigned char **out, size_t *out_len, void *ctx, dst_error *err)
{
    FILE *f;
    unsigned char *buf = NULL, *nb;
    size_t cap = 0, len = 0, got;
    *out = NULL;
    *out_len = 0;
    if (!path) return dst__err(err, DST_ERR_ARG, "path is NULL");
    f = fopen(path, "rb");
    if (!f) return dst__err(err, DST_ERR_IO, "cannot open %s", path);
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            if (ncap < cap || !(nb = (unsigned char *)DST_REALLOC(buf, ncap, ctx))) {
                DST_FREE(buf, ctx);
                fclose(f);
                return dst__err(err, DST_ERR_NOMEM, "reading %s", path);
            }
            buf = nb;
            cap = ncap;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        DST_FREE(buf, ctx);
        fclose(f);
        return dst__err(err, DST_ERR_IO, "read error in %s", path);
    }
    fclose(f);
    *out = buf;
    *out_len = len;
    return DST_OK;
}
#ifndef DST_INFERENCE_ONLY /* IDX / MNIST files */

DSTDEF dst_result dst_idx_load(const char *path, dst_idx *out, dst_error *err)
{
    unsigned char *buf, *plain;
    size_t len, plain_len, n;
    dst_result r;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if ((r = dst__read_file(path, &buf, &len, NULL, err)) != DST_OK) return r;
    n = strlen(path);
    if (n > 3 && strcmp(path + n - 3, ".gz") == 0) {
        r = dst_gunzip(buf, len, &plain, &plain_len, err);
        DST_FREE(buf, NULL);
        if (r != DST_OK) return r;
        buf = plain;
        len = plain_len;
    }
    r = dst_idx_parse(buf, len, out, err);
    DST_FREE(buf, NULL);
    if (r != DST_OK && err) {
        char msg[256];
        memcpy(msg, err->message, sizeof msg);
        snprintf(err->message, sizeof err->message, "%.100s: %.150s", path, msg);
    }
    return r;
}

/* Loads dir/name or dir/name.gz, whichever exists (plain first). */
static dst_result dst__mnist_part(const char *dir, const char *name, dst_idx *out, dst_error *err)
{
    char path[1024];
    FILE *f;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return dst__err(err, DST_ERR_ARG, "data set path too long: %s", dir);
    if ((f = fopen(path, "rb")) != NULL) { fclose(f); return dst_idx_load(path, out, err); }
    snprintf(path, sizeof path, "%s/%s.gz", dir, name);
    if ((f = fopen(path, "rb")) != NULL) { fclose(f); return dst_idx_load(path, out, err); }
    return dst__err(err, DST_ERR_IO, "neither %s/%s nor %s.gz exists", dir, name, name);
}

/* Turns an images IDX and a labels IDX into floats in [0,1] and ints. */
static dst_result dst__mnist_split(dst_idx *img, dst_idx *lab, const char *what, float **x, int **y,
                                   size_t *count, int *rows, int *cols, int *classes, dst_error *err)
{
    size_t i;
    if (img->ndim != 3) return dst__err(err, DST_ERR_FORMAT, "%s images: %d dimensions, expected 3", what, img->ndim);
    if (lab->ndim != 1) return dst__err(err, DST_ERR_FORMAT, "%s labels: %d dimensions, expected 1", what, lab->ndim);
    if (img->dims[0] != lab->dims[0])
        return dst__err(err, DST_ERR_FORMAT, "%s: %d images but %d labels", what, img->dims[0], lab->dims[0]);
    if (*rows && (img->dims[1] != *rows || img->dims[2] != *cols))
        return dst__err(err, DST_ERR_FORMAT, "%s images are %dx%d, the others %dx%d", what,
                        img->dims[1], img->dims[2], *rows, *cols);
    *y = (int *)DST_MALLOC(lab->count * sizeof(int), NULL);
    if (!*y) return dst__err(err, DST_ERR_NOMEM, "%s labels", what);
    for (i = 0; i < lab->count; ++i) {
        float v = lab->data[i];
        if (!(v >= 0 && v < 1000) || v != (float)(int)v) {
            DST_FREE(*y, NULL);
            *y = NULL;
            return dst__err(err, DST_ERR_FORMAT, "%s label %lu is %g, expected an integer in [0, 1000)",
                            what, (unsigned long)i, (double)v);
        }
        (*y)[i] = (int)v;
        if ((int)v + 1 > *classes) *classes = (int)v + 1;
    }
    if (img->type == 0x08) /* pixels; anything else (float features) is left as it is */
        for (i = 0; i < img->count; ++i) img->data[i] *= 1.0f / 255.0f;
    *x = img->data;
    img->data = NULL;
    *count = lab->count;
    *rows = img->dims[1];
    *cols = img->dims[2];
    return DST_OK;
}

DSTDEF dst_result dst_mnist_load(const char *dir, dst_mnist *out, dst_error *err)
{
    static const char *names[4] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
    dst_idx part[4];
    dst_result r = DST_OK;
    int i;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    memset(part, 0, sizeof part);
    if (!dir) return dst__err(err, DST_ERR_ARG, "dir is NULL");
    for (i = 0; i < 4 && r == DST_OK; ++i) r = dst__mnist_part(dir, names[i], &part[i], err);
    if (r == DST_OK)
        r = dst__mnist_split(&part[0], &part[1], "training", &out->train_x, &out->train_y, &out->train_count,
                             &out->rows, &out->cols, &out->classes, err);
    if (r == DST_OK && part[0].type != part[2].type)
        r = dst__err(err, DST_ERR_FORMAT, "the training images are of IDX type 0x%02x, the test images 0x%02x",
                     part[0].type, part[2].type);
    out->pixels = part[0].type == 0x08;
    if (r == DST_OK)
        r = dst__mnist_split(&part[2], &part[3], "test", &out->test_x, &out->test_y, &out->test_count,
                             &out->rows, &out->cols, &out->classes, err);
    for (i = 0; i < 4; ++i) dst_idx_free(&part[i]);
    if (r != DST_OK) dst_mnist_free(out);
    return r;
}
#endif /* DST_INFERENCE_ONLY */
#endif /* DST_NO_STDIO */
#ifndef DST_INFERENCE_ONLY /* IDX / MNIST data */

DSTDEF void dst_mnist_free(dst_mnist *d)
{
    if (!d) return;
    DST_FREE(d->train_x, NULL);
    DST_FREE(d->train_y, NULL);
    DST_FREE(d->test_x, NULL);
    DST_FREE(d->test_y, NULL);
    memset(d, 0, sizeof *d);
}

#endif /* DST_INFERENCE_ONLY */

/* ==== data sets of your own: splits, normalisation ============= >>dataset */

#ifndef DST_INFERENCE_ONLY /* data sets */
DSTDEF size_t dst_dataset_sample_size(const dst_dataset *d)
{
    return d ? (size_t)d->channels * (size_t)d->height * (size_t)d->width : 0;
}

DSTDEF void dst_dataset_free(dst_dataset *d)
{
    if (!d) return;
    DST_FREE(d->x, NULL);
    DST_FREE(d->y, NULL);
    DST_FREE(d->class_names, NULL);
    memset(d, 0, sizeof *d);
}

/* n names into one block: the pointers, then the strings they point at. */
static dst_result dst__names_copy(const char *const *names, int n, char ***out, dst_error *err)
{
    size_t bytes = (size_t)n * sizeof(char *), at;
    char **block, *text;
    int i;
    *out = NULL;
    if (!names || n <= 0) return DST_OK;
    for (i = 0; i < n; ++i) {
        if (!names[i]) return dst__err(err, DST_ERR_ARG, "class name %d is NULL", i);
        bytes += strlen(names[i]) + 1;
    }
    if (!(block = (char **)DST_MALLOC(bytes, NULL))) return dst__err(err, DST_ERR_NOMEM, "%d class names", n);
    text = (char *)(block + n);
    for (i = 0, at = 0; i < n; ++i) {
        size_t k = strlen(names[i]) + 1;
        block[i] = text + at;
        memcpy(text + at, names[i], k);
        at += k;
    }
    *out = block;
    return DST_OK;
}

/* Room for count samples of sample_size floats and their labels. */
static dst_result dst__dataset_alloc(dst_dataset *d, size_t count, size_t sample_size, dst_error *err)
{
    size_t floats, bytes;
    if (!dst__mul_ok(count ? count : 1, sample_size ? sample_size : 1, &floats) ||
        !dst__mul_ok(floats, sizeof(float), &bytes) || !(d->x = (float *)DST_MALLOC(bytes, NULL)) ||
        !(d->y = (int *)DST_MALLOC((count ? count : 1) * sizeof(int), NULL))) {
        DST_FREE(d->x, NULL);
        d->x = NULL;
        return dst__err(err, DST_ERR_NOMEM, "%lu samples of %lu floats", (unsigned long)count,
                        (unsigned long)sample_size);
    }
    return DST_OK;
}

DSTDEF dst_result dst_dataset_subset(const dst_dataset *src, const size_t *idx, size_t n, dst_dataset *out,
                                     dst_error *err)
{
    size_t i, ss;
    dst_result r;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!src || (!idx && n) || !src->x || !src->y) return dst__err(err, DST_ERR_ARG, "subset: NULL data set or indices");
    ss = dst_dataset_sample_size(src);
    for (i = 0; i < n; ++i)
        if (idx[i] >= src->count)
            return dst__err(err, DST_ERR_ARG, "subset: index %lu of %lu samples", (unsigned long)idx[i],
                            (unsigned long)src->count);
    if ((r = dst__dataset_alloc(out, n, ss, err)) != DST_OK) return r;
    if ((r = dst__names_copy((const char *const *)src->class_names, src->class_names ? src->classes : 0,
                             &out->class_names, err)) != DST_OK) {
        dst_dataset_free(out);
        return r;
    }
    for (i = 0; i < n; ++i) {
        memcpy(out->x + i * ss, src->x + idx[i] * ss, ss * sizeof(float));
        out->y[i] = src->y[idx[i]];
    }
    out->count = n;
    out->channels = src->channels; out->height = src->height; out->width = src->width;
    out->classes = src->classes;
    return DST_OK;
}

/* Sorts idx[0, n) by label, keeping index order within a label (bottom-up merge). */
static void dst__sort_by_label(size_t *idx, size_t *tmp, size_t n, const int *labels)
{
    size_t width, i;
    for (width = 1; width < n; width *= 2) {
        for (i = 0; i < n; i += 2 * width) {
            size_t mid = i + width < n ? i + width : n, end = i + 2 * width < n ? i + 2 * width : n;
            size_t a = i, b = mid, o = i;
            while (a < mid && b < end) tmp[o++] = labels[idx[b]] < labels[idx[a]] ? idx[b++] : idx[a++];
            while (a < mid) tmp[o++] = idx[a++];
            while (b < end) tmp[o++] = idx[b++];
        }
        memcpy(idx, tmp, n * sizeof(size_t));
    }
}

DSTDEF dst_result dst_split_stratified(const int *labels, size_t count, float fraction, uint64_t seed,
                                       size_t *order, size_t *held, dst_error *err)
{
    size_t *idx, *mark, i, a, kept = 0, nheld = 0, bytes;
    dst_rng rng;
    dst__err_clear(err);
    if (held) *held = 0;
    if (!labels || !order || !held || count == 0) return dst__err(err, DST_ERR_ARG, "split: NULL argument or no samples");
    if (!(fraction >= 0 && fraction < 1)) return dst__err(err, DST_ERR_ARG, "split: fraction %g, must be in [0, 1)", (double)fraction);
    for (i = 0; i < count; ++i)
        if (labels[i] < 0) return dst__err(err, DST_ERR_ARG, "split: label %d of sample %lu is negative", labels[i], (unsigned long)i);
    if (!dst__mul_ok(count, 2 * sizeof(size_t), &bytes) || !(idx = (size_t *)DST_MALLOC(bytes, NULL)))
        return dst__err(err, DST_ERR_NOMEM, "split of %lu samples", (unsigned long)count);
    mark = idx + count;
    for (i = 0; i < count; ++i) idx[i] = i;
    dst__sort_by_label(idx, mark, count, labels);
    memset(mark, 0, count * sizeof(size_t));
    dst_rng_seed(&rng, seed);
    for (a = 0; a < count;) { /* each class's run: choose k of its n in order (selection sampling) */
        size_t b = a, n, k, t, chosen = 0;
        while (b < count && labels[idx[b]] == labels[idx[a]]) ++b;
        n = b - a;
        k = (size_t)floor((double)fraction * (double)n + 0.5);
        if (k == 0 && fraction > 0 && n >= 2) k = 1;
        if (k >= n) k = n - 1;
        for (t = 0; t < n && chosen < k; ++t)
            if (dst_rng_below(&rng, n - t) < k - chosen) { mark[idx[a + t]] = 1; ++chosen; }
        a = b;
    }
    for (i = 0; i < count; ++i) if (!mark[i]) order[kept++] = i;
    for (i = 0; i < count; ++i) if (mark[idx[i]]) order[kept + nheld++] = idx[i];
    DST_FREE(idx, NULL);
    *held = nheld;
    return DST_OK;
}

#endif /* DST_INFERENCE_ONLY */

/* ---- normalisation in the model's metadata ---- */

/* A list of numbers "a,b,c" (or one metadata number) into v (up to cap);
   returns how many, -1 when malformed. */
static int dst__meta_numbers(const dst_model *m, const char *key, float *v, int cap)
{
    const char *s = dst_model_meta_string(m, key);
    double d;
    int n = 0;
    if (!s) {
        if (!dst_model_meta_number(m, key, &d)) return 0;
        if (!dst__finite((float)d)) return -1;
        if (v && cap > 0) v[0] = (float)d;
        return 1;
    }
    while (*s) {
        char *end;
        d = strtod(s, &end);
        if (end == s || !dst__finite((float)d) || (*end && *end != ',')) return -1;
        if (v && n < cap) v[n] = (float)d;
        if (++n > INT_MAX / 2) return -1;
        s = *end ? end + 1 : end;
    }
    return n;
}

/* The values as one metadata entry: a number when there is one, else "a,b,c". */
static dst_result dst__meta_set_numbers(dst_model *m, const char *key, const float *v, int count)
{
    char *text, *o;
    size_t bytes;
    int i;
    dst_result r;
    if (count == 1) return dst_model_meta_set_number(m, key, (double)v[0]);
    if (!dst__mul_ok((size_t)count, 18, &bytes) || !(text = (char *)DST_MALLOC(bytes + 1, m->alloc_user)))
        return dst__fail(m, DST_ERR_NOMEM, "metadata %s: %d numbers", key, count);
    for (i = 0, o = text; i < count; ++i) o += sprintf(o, i ? ",%.9g" : "%.9g", (double)v[i]);
    r = dst_model_meta_set_string(m, key, text);
    DST_FREE(text, m->alloc_user);
    return r;
}

DSTDEF dst_result dst_model_set_normalization(dst_model *m, float scale, const float *mean, const float *std,
                                              int count)
{
    static const float zero = 0, one = 1;
    dst_result r;
    int i;
    if (!m) return DST_ERR_ARG;
    if (count < 0 || (count && (!mean || !std)))
        return dst__fail(m, DST_ERR_ARG, "normalization: count %d, mean and std must be given", count);
    if (count > 1 && (size_t)count != m->in_size && count != m->in_c)
        return dst__fail(m, DST_ERR_ARG, "normalization: %d values; the model takes %lu inputs in %d channels "
                         "(give 1, one per channel or one per input)", count, (unsigned long)m->in_size, m->in_c);
    if (!(scale > 0) || !dst__finite(scale)) return dst__fail(m, DST_ERR_ARG, "normalization: scale %g, must be > 0", (double)scale);
    for (i = 0; i < count; ++i)
        if (!dst__finite(mean[i]) || !(std[i] > 0) || !dst__finite(std[i]))
            return dst__fail(m, DST_ERR_ARG, "normalization: value %d: mean %g, std %g (std must be finite and > 0)",
                             i, (double)mean[i], (double)std[i]);
    if (!count) { mean = &zero; std = &one; count = 1; }
    if ((r = dst_model_meta_set_number(m, "input.scale", (double)scale)) != DST_OK) return r;
    if ((r = dst__meta_set_numbers(m, "input.mean", mean, count)) != DST_OK) return r;
    return dst__meta_set_numbers(m, "input.std", std, count);
}

DSTDEF int dst_model_normalization(const dst_model *m, float *scale, float *mean, float *std, int cap)
{
    double s;
    int n, k;
    if (scale) *scale = 1;
    if (!m) return 0;
    if (scale && dst_model_meta_number(m, "input.scale", &s) && s > 0 && dst__finite((float)s)) *scale = (float)s;
    n = dst__meta_numbers(m, "input.mean", mean, cap);
    k = dst__meta_numbers(m, "input.std", std, cap);
    if (n <= 0 || k != n) return 0;
    if (n > 1 && (size_t)n != m->in_size && n != m->in_c) return 0;
    if (std)
        for (k = 0; k < n && k < cap; ++k)
            if (!(std[k] > 0)) return 0;
    return n;
}

DSTDEF dst_result dst_model_normalize(dst_model *m, float *x, size_t samples)
{
    float *mean, *std;
    size_t i, j, in, per;
    int n;
    if (!m) return DST_ERR_ARG;
    if (!x && samples) return dst__fail(m, DST_ERR_ARG, "normalize: x is NULL");
    in = m->in_size;
    if (!(mean = (float *)DST_MALLOC(2 * in * sizeof(float), m->alloc_user)))
        return dst__fail(m, DST_ERR_NOMEM, "normalize: %lu values", (unsigned long)in);
    std = mean + in;
    n = dst_model_normalization(m, NULL, mean, std, (int)(in < INT_MAX ? in : INT_MAX));
    per = n <= 1 ? in : (size_t)n == in ? 1 : in / (size_t)n; /* inputs sharing one value */
    for (i = 0; n > 0 && i < samples; ++i) {
        float *v = x + i * in;
        for (j = 0; j < in; ++j) v[j] = (v[j] - mean[j / per]) / std[j / per];
    }
    DST_FREE(mean, m->alloc_user);
    return DST_OK;
}

#ifndef DST_INFERENCE_ONLY /* normalisation statistics */
DSTDEF dst_result dst_normalization_stats(const float *x, size_t samples, size_t sample_size, int count,
                                          float *mean, float *std, dst_error *err)
{
    size_t per, i, j;
    int g;
    dst__err_clear(err);
    if (!x || !mean || !std || samples == 0 || count < 1 || sample_size % (size_t)count)
        return dst__err(err, DST_ERR_ARG, "stats: NULL argument, no samples, or %d groups for %lu values", count,
                        (unsigned long)sample_size);
    per = sample_size / (size_t)count;
    for (g = 0; g < count; ++g) {
        double sum = 0, sq = 0, mu, sd, n = (double)samples * (double)per;
        for (i = 0; i < samples; ++i)
            for (j = 0; j < per; ++j) sum += (double)x[i * sample_size + (size_t)g * per + j];
        mu = sum / n;
        for (i = 0; i < samples; ++i)
            for (j = 0; j < per; ++j) {
                double dv = (double)x[i * sample_size + (size_t)g * per + j] - mu;
                sq += dv * dv;
            }
        sd = sqrt(sq / n);
        if (!(sd > 1e-6 * (fabs(mu) > 1 ? fabs(mu) : 1))) sd = 1; /* a constant: left centred, not blown up */
        mean[g] = (float)mu;
        std[g] = (float)sd;
    }
    return DST_OK;
}

#endif /* DST_INFERENCE_ONLY */

/* ==== CSV tables ================================================== >>csv */
#ifndef DST_INFERENCE_ONLY /* CSV tables: not in an inference-only build */

/* The reader walks the buffer record by record; a record's fields are kept
   as spans of the buffer (a quoted field's span lies inside its quotes, its
   doubled quotes still doubled) and copied out only when read. */
typedef struct dst__csv {
    const char *p;
    size_t len, pos, line;       /* line: of pos, from 1 */
    size_t begin;                /* the first byte after a byte order mark */
    size_t rec_line;             /* where the current record starts */
    char   delim;
    size_t *start, *flen;        /* the record's fields */
    unsigned char *quoted;
    size_t nfields, cap;
    dst_error *err;
} dst__csv;

static int dst__csv_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static dst_result dst__csv_push(dst__csv *c, size_t start, size_t n, int quoted)
{
    if (c->nfields == c->cap) {
        size_t ncap = c->cap ? 2 * c->cap : 16;
        size_t *s, *l;
        unsigned char *q;
        if (ncap > DST_CSV_MAX_COLUMNS)
            return dst__err(c->err, DST_ERR_FORMAT, "line %lu: more than %d columns", (unsigned long)c->rec_line,
                            DST_CSV_MAX_COLUMNS);
        s = (size_t *)DST_REALLOC(c->start, ncap * sizeof(size_t), NULL);
        if (s) c->start = s;
        l = s ? (size_t *)DST_REALLOC(c->flen, ncap * sizeof(size_t), NULL) : NULL;
        if (l) c->flen = l;
        q = l ? (unsigned char *)DST_REALLOC(c->quoted, ncap, NULL) : NULL;
        if (!q) return dst__err(c->err, DST_ERR_NOMEM, "CSV: %lu columns", (unsigned long)ncap);
        c->quoted = q;
        c->cap = ncap;
    }
    c->start[c->nfields] = start;
    c->flen[c->nfields] = n;
    c->quoted[c->nfields++] = (unsigned char)quoted;
    return DST_OK;
}

/* One field at c->pos; *last = 1 when it ends the record. */
static dst_result dst__csv_field(dst__csv *c, int *last)
{
    const char *p = c->p;
    size_t start, end;
    int quoted = 0;
    while (c->pos < c->len && (p[c->pos] == ' ' || p[c->pos] == '\t')) ++c->pos;
    if (c->pos < c->len && p[c->pos] == '"') {
        size_t open_line = c->line;
        quoted = 1;
        start = ++c->pos;
        for (;;) {
            if (c->pos >= c->len)
                return dst__err(c->err, DST_ERR_FORMAT, "line %lu, column %lu: the quote opened here is never closed",
                                (unsigned long)open_line, (unsigned long)c->nfields);
            if (p[c->pos] == '"') {
                if (c->pos + 1 < c->len && p[c->pos + 1] == '"') { c->pos += 2; continue; }
                break;
            }
            if (p[c->pos] == '\n') ++c->line;
            ++c->pos;
        }
        end = c->pos++;
        while (c->pos < c->len && dst__csv_space(p[c->pos])) ++c->pos;
        if (c->pos < c->len && p[c->pos] != c->delim && p[c->pos] != '\n')
            return dst__err(c->err, DST_ERR_FORMAT, "line %lu, column %lu: text after the closing quote",
                            (unsigned long)c->line, (unsigned long)c->nfields);
    } else {
        start = c->pos;
        while (c->pos < c->len && p[c->pos] != c->delim && p[c->pos] != '\n') ++c->pos;
        end = c->pos;
        while (end > start && dst__csv_space(p[end - 1])) --end;
    }
    *last = c->pos >= c->len || p[c->pos] == '\n';
    if (c->pos < c->len) { /* past the delimiter or the line's end */
        if (p[c->pos] == '\n') ++c->line;
        ++c->pos;
    }
    return dst__csv_push(c, start, end - start, quoted);
}

/* The next record into c's fields: 1, 0 at the end of the input, -1 on an
   error (in c->err). Blank lines and # comments are skipped. */
static int dst__csv_record(dst__csv *c)
{
    const char *p = c->p;
    int last = 0;
    for (;;) {
        size_t q = c->pos;
        if (q >= c->len) return 0;
        while (q < c->len && dst__csv_space(p[q])) ++q;
        if (q < c->len && p[q] == '#')
            while (q < c->len && p[q] != '\n') ++q;
        if (q >= c->len) { c->pos = q; return 0; }
        if (p[q] != '\n') break;
        c->pos = q + 1; /* blank or comment */
        ++c->line;
    }
    c->nfields = 0;
    c->rec_line = c->line;
    while (!last)
        if (dst__csv_field(c, &last) != DST_OK) return -1;
    return 1;
}

/* Field i as text in buf (NUL-terminated, "" -> "); the length, or
   (size_t)-1 when it does not fit in cap - 1 bytes. */
static size_t dst__csv_text(const dst__csv *c, size_t i, char *buf, size_t cap)
{
    const char *s = c->p + c->start[i];
    size_t n = c->flen[i], k, o = 0;
    for (k = 0; k < n; ++k) {
        if (o + 1 >= cap) return (size_t)-1;
        buf[o++] = s[k];
        if (c->quoted[i] && s[k] == '"') ++k; /* "" is one " */
    }
    buf[o] = 0;
    return o;
}

/* 1 when field i is a finite float. */
static int dst__csv_float(const dst__csv *c, size_t i, float *v)
{
    char buf[64], *end;
    double d;
    if (dst__csv_text(c, i, buf, sizeof buf) == (size_t)-1 || !buf[0]) return 0;
    d = strtod(buf, &end);
    if (*end || !(d >= -(double)FLT_MAX && d <= (double)FLT_MAX)) return 0;
    *v = (float)d;
    return 1;
}

/* The class names met so far, each once: strings in one growing block. */
typedef struct dst__csv_names {
    char   *text;
    size_t  used, cap;
    size_t *at, *line;   /* where each starts in text; the line it first appears on */
    int     count;
} dst__csv_names;

static void dst__csv_names_free(dst__csv_names *nm)
{
    DST_FREE(nm->text, NULL);
    DST_FREE(nm->at, NULL);
}

/* The number of name s (added when new), or -1 (err set). */
static int dst__csv_name_index(dst__csv_names *nm, const char *s, size_t n, size_t line, dst_error *err)
{
    int i;
    for (i = 0; i < nm->count; ++i)
        if (strcmp(nm->text + nm->at[i], s) == 0) return i;
    if (nm->count == DST_CSV_MAX_CLASSES) {
        dst__err(err, DST_ERR_FORMAT, "line %lu: more than %d different labels (is the label column right?)",
                 (unsigned long)line, DST_CSV_MAX_CLASSES);
        return -1;
    }
    if (!nm->at && !(nm->at = (size_t *)DST_MALLOC(2 * DST_CSV_MAX_CLASSES * sizeof(size_t), NULL))) {
        dst__err(err, DST_ERR_NOMEM, "CSV class names");
        return -1;
    }
    nm->line = nm->at + DST_CSV_MAX_CLASSES;
    if (nm->used + n + 1 > nm->cap) {
        size_t ncap = 2 * (nm->used + n + 1);
        char *t = (char *)DST_REALLOC(nm->text, ncap, NULL);
        if (!t) { dst__err(err, DST_ERR_NOMEM, "CSV class names"); return -1; }
        nm->text = t;
        nm->cap = ncap;
    }
    memcpy(nm->text + nm->used, s, n + 1);
    nm->at[nm->count] = nm->used;
    nm->line[nm->count] = line;
    nm->used += n + 1;
    return nm->count++;
}

/* 1 when s is a whole number 0 to 65535 written plainly ("7", not "07" or "7.0"). */
static int dst__csv_whole(const char *s, int *v)
{
    long n = 0;
    if (!*s || (s[0] == '0' && s[1])) return 0;
    for (; *s; ++s) {
        if (*s < '0' || *s > '9' || (n = n * 10 + (*s - '0')) > 65535) return 0;
    }
    *v = (int)n;
    return 1;
}

/* Whether the first record is a header: opt's choice, else a column whose
   first field is not a number where the second's is; 2 when such a first
   line has another number of fields than the second (sklearn's
   "178,13,class_0,class_1,class_2" above 14 columns): a preamble, skipped.
   Leaves c at the start. */
static int dst__csv_guess_header(dst__csv *c, const dst_csv_options *o, dst_result *r)
{
    float *first, v;
    size_t n1, i;
    int header = 0, got;
    *r = DST_OK;
    if (o->header >= 0) return o->header;
    if (o->label && *o->label && !dst__csv_whole(o->label, &got)) return 1; /* a label named needs the names */
    if ((got = dst__csv_record(c)) <= 0) { c->pos = c->begin; c->line = 1; *r = got < 0 ? DST_ERR_FORMAT : DST_OK; return 0; }
    n1 = c->nfields;
    if (!(first = (float *)DST_MALLOC(n1 * sizeof(float) + 1, NULL))) { *r = dst__err(c->err, DST_ERR_NOMEM, "CSV"); return 0; }
    for (i = 0; i < n1; ++i) first[i] = dst__csv_float(c, i, &v) ? 1.0f : 0.0f;
    got = dst__csv_record(c);
    if (got < 0) *r = DST_ERR_FORMAT;
    for (i = 0; got > 0 && i < n1 && i < c->nfields; ++i)
        if (first[i] == 0 && dst__csv_float(c, i, &v)) header = 1;
    if (header && got > 0 && c->nfields != n1) header = 2; /* not the columns' names: a preamble line */
    DST_FREE(first, NULL);
    c->pos = c->begin;
    c->line = 1;
    return header;
}

/* The label column's index, from its name or its 0-based number. */
static dst_result dst__csv_label_column(dst__csv *c, const dst_csv_options *o, int header, size_t *col)
{
    char buf[256];
    size_t i;
    int idx;
    if (!o->label || !*o->label) { *col = c->nfields - 1; return DST_OK; }
    for (i = 0; header && i < c->nfields; ++i)
        if (dst__csv_text(c, i, buf, sizeof buf) != (size_t)-1 && strcmp(buf, o->label) == 0) { *col = i; return DST_OK; }
    if (dst__csv_whole(o->label, &idx)) {
        if ((size_t)idx < c->nfields) { *col = (size_t)idx; return DST_OK; }
        return dst__err(c->err, DST_ERR_FORMAT, "label column %d: the rows have %lu columns (0 to %lu)", idx,
                        (unsigned long)c->nfields, (unsigned long)c->nfields - 1);
    }
    if (!header)
        return dst__err(c->err, DST_ERR_FORMAT, "label column '%.60s': the file has no header row to name it; "
                        "give a 0-based column number", o->label);
    return dst__err(c->err, DST_ERR_FORMAT, "line %lu: no column is named '%.60s'", (unsigned long)c->rec_line, o->label);
}

/* One data record into the table: features into row, the label's name number into *name. */
static dst_result dst__csv_row(dst__csv *c, size_t columns, size_t label, float *row, dst__csv_names *nm, int *name)
{
    char buf[256];
    size_t i, n;
    if (c->nfields != columns)
        return dst__err(c->err, DST_ERR_FORMAT, "line %lu: %lu fields, the first row has %lu", (unsigned long)c->rec_line,
                        (unsigned long)c->nfields, (unsigned long)columns);
    for (i = 0; i < columns; ++i) {
        if (c->flen[i] == 0)
            return dst__err(c->err, DST_ERR_FORMAT, "line %lu, column %lu: empty field (a missing value)",
                            (unsigned long)c->rec_line, (unsigned long)i);
        if (i == label) continue;
        if (!dst__csv_float(c, i, row++)) {
            size_t k = dst__csv_text(c, i, buf, 40);
            return dst__err(c->err, DST_ERR_FORMAT, "line %lu, column %lu: '%s%s' is not a finite number",
                            (unsigned long)c->rec_line, (unsigned long)i, k == (size_t)-1 ? "" : buf,
                            k == (size_t)-1 ? "(a long field)" : "");
        }
    }
    if ((n = dst__csv_text(c, label, buf, sizeof buf)) == (size_t)-1)
        return dst__err(c->err, DST_ERR_FORMAT, "line %lu, column %lu: a label over 255 bytes", (unsigned long)c->rec_line,
                        (unsigned long)label);
    *name = dst__csv_name_index(nm, buf, n, c->rec_line, c->err);
    return *name < 0 ? c->err ? c->err->code : DST_ERR_FORMAT : DST_OK;
}

/* The names met, as class numbers: the given classes, whole numbers, or the
   names sorted. map[name number] = class number. */
static dst_result dst__csv_classes(const dst__csv_names *nm, const dst_csv_options *o, int *map, dst_dataset *out,
                                   dst_error *err)
{
    const char **sorted;
    int i, j, whole = 1, v;
    dst_result r;
    if (o->classes) {
        for (i = 0; i < nm->count; ++i) {
            const char *s = nm->text + nm->at[i];
            for (j = 0; j < o->class_count && (!o->classes[j] || strcmp(o->classes[j], s) != 0); ++j) {}
            if (j == o->class_count)
                return dst__err(err, DST_ERR_FORMAT, "line %lu: class '%.60s' is not one of the %d known classes",
                                (unsigned long)nm->line[i], s, o->class_count);
            map[i] = j;
        }
        out->classes = o->class_count;
        return dst__names_copy(o->classes, o->class_count, &out->class_names, err);
    }
    for (i = 0; i < nm->count && whole; ++i) whole = dst__csv_whole(nm->text + nm->at[i], &map[i]);
    if (whole) {
        for (i = 0, out->classes = 0; i < nm->count; ++i) if (map[i] + 1 > out->classes) out->classes = map[i] + 1;
        return DST_OK;
    }
    if (!(sorted = (const char **)DST_MALLOC((size_t)nm->count * sizeof(char *), NULL)))
        return dst__err(err, DST_ERR_NOMEM, "CSV class names");
    for (i = 0; i < nm->count; ++i) { /* insertion sort: at most DST_CSV_MAX_CLASSES names */
        const char *s = nm->text + nm->at[i];
        for (j = i; j > 0 && strcmp(sorted[j - 1], s) > 0; --j) sorted[j] = sorted[j - 1];
        sorted[j] = s;
    }
    for (i = 0; i < nm->count; ++i)
        for (v = 0; v < nm->count; ++v)
            if (sorted[v] == nm->text + nm->at[i]) { map[i] = v; break; }
    out->classes = nm->count;
    r = dst__names_copy(sorted, nm->count, &out->class_names, err);
    DST_FREE(sorted, NULL);
    return r;
}

DSTDEF dst_csv_options dst_csv_options_default(void)
{
    dst_csv_options o;
    memset(&o, 0, sizeof o);
    o.header = -1;
    o.delimiter = ',';
    return o;
}

/* The data rows into out->x (grown as they come) and name numbers into out->y. */
static dst_result dst__csv_rows(dst__csv *c, size_t columns, size_t label, dst__csv_names *nm, dst_dataset *out)
{
    size_t cap = 0, features = columns - 1, bytes;
    int got;
    while ((got = dst__csv_record(c)) > 0) {
        if (out->count == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            float *nx;
            int *ny;
            if (!dst__mul_ok(ncap, features * sizeof(float), &bytes) ||
                !(nx = (float *)DST_REALLOC(out->x, bytes, NULL)))
                return dst__err(c->err, DST_ERR_NOMEM, "CSV: %lu rows", (unsigned long)ncap);
            out->x = nx;
            if (!(ny = (int *)DST_REALLOC(out->y, ncap * sizeof(int), NULL)))
                return dst__err(c->err, DST_ERR_NOMEM, "CSV: %lu rows", (unsigned long)ncap);
            out->y = ny;
            cap = ncap;
        }
        if (dst__csv_row(c, columns, label, out->x + out->count * features, nm, &out->y[out->count]) != DST_OK)
            return c->err ? c->err->code : DST_ERR_FORMAT;
        ++out->count;
    }
    if (got < 0) return c->err ? c->err->code : DST_ERR_FORMAT;
    if (out->count == 0) return dst__err(c->err, DST_ERR_FORMAT, "no data rows");
    return DST_OK;
}

static dst_result dst__csv_parse(dst__csv *c, const dst_csv_options *o, dst_dataset *out, dst_error *err)
{
    dst__csv_names nm;
    size_t columns, label = 0, i, data_pos, data_line;
    int header, got, *map = NULL;
    dst_result r;
    memset(&nm, 0, sizeof nm);
    header = dst__csv_guess_header(c, o, &r);
    if (r != DST_OK) return err ? err->code : r;
    if (header == 2) { /* skip the preamble */
        if (dst__csv_record(c) < 0) return err ? err->code : DST_ERR_FORMAT;
        header = 0;
    }
    data_pos = c->pos;
    data_line = c->line;
    if ((got = dst__csv_record(c)) <= 0) return got < 0 ? err ? err->code : DST_ERR_FORMAT : dst__err(err, DST_ERR_FORMAT, "no rows");
    columns = c->nfields;
    if (columns < 2) return dst__err(err, DST_ERR_FORMAT, "line %lu: one column; a table needs a label and at least one "
                                     "feature", (unsigned long)c->rec_line);
    if ((r = dst__csv_label_column(c, o, header, &label)) != DST_OK) return r;
    if (!header) { c->pos = data_pos; c->line = data_line; }
    r = dst__csv_rows(c, columns, label, &nm, out);
    if (r == DST_OK && !(map = (int *)DST_MALLOC((size_t)nm.count * sizeof(int) + 1, NULL)))
        r = dst__err(err, DST_ERR_NOMEM, "CSV");
    if (r == DST_OK) r = dst__csv_classes(&nm, o, map, out, err);
    if (r == DST_OK)
        for (i = 0; i < out->count; ++i) out->y[i] = map[out->y[i]];
    DST_FREE(map, NULL);
    dst__csv_names_free(&nm);
    out->channels = out->height = 1;
    out->width = (int)(columns - 1);
    return r;
}

DSTDEF dst_result dst_csv_parse(const void *buf, size_t len, const dst_csv_options *opt, dst_dataset *out,
                                dst_error *err)
{
    dst__csv c;
    dst_csv_options o = opt ? *opt : dst_csv_options_default();
    dst_result r;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!buf && len) return dst__err(err, DST_ERR_ARG, "buffer is NULL");
    if (o.header < -1 || o.header > 1) return dst__err(err, DST_ERR_ARG, "header %d: -1, 0 or 1", o.header);
    if (o.delimiter == '"' || o.delimiter == '\n' || o.delimiter == '\r' || o.delimiter == 0 || o.delimiter == '#')
        return dst__err(err, DST_ERR_ARG, "delimiter %d cannot separate fields", o.delimiter);
    if (o.classes && (o.class_count < 1 || o.class_count > DST_CSV_MAX_CLASSES))
        return dst__err(err, DST_ERR_ARG, "class_count %d: 1 to %d", o.class_count, DST_CSV_MAX_CLASSES);
    memset(&c, 0, sizeof c);
    c.p = (const char *)buf;
    c.len = len;
    c.line = 1;
    c.delim = o.delimiter;
    c.err = err;
    if (len >= 3 && memcmp(c.p, "\xEF\xBB\xBF", 3) == 0) c.pos = c.begin = 3; /* a UTF-8 byte order mark */
    r = dst__csv_parse(&c, &o, out, err);
    DST_FREE(c.start, NULL);
    DST_FREE(c.flen, NULL);
    DST_FREE(c.quoted, NULL);
    if (r != DST_OK) dst_dataset_free(out);
    return r;
}

#ifndef DST_NO_STDIO
DSTDEF dst_result dst_csv_load(const char *path, const dst_csv_options *opt, dst_dataset *out, dst_error *err)
{
    unsigned char *buf;
    size_t len;
    dst_result r;
    dst__err_clear(err);
    if (out) memset(out, 0, sizeof *out);
    if (!out || !path) return dst__err(err, DST_ERR_ARG, "out or path is NULL");
    if ((r = dst__read_file(path, &buf, &len, NULL, err)) != DST_OK) return r;
    r = dst_csv_parse(buf, len, opt, out, err);
    DST_FREE(buf, NULL);
    if (r != DST_OK && r != DST_ERR_NOMEM) dst__err_wrap(err, path, "");
    return r;
}
#endif

/* ==== .npy arrays ================================================= >>npy */

/* The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } */
static void dst__npy_space(const char *h, size_t n, size_t *i)
{
    while (*i < n && (h[*i] == ' ' || h[*i] == '\t' || h[*i] == '\n' || h[*i] == '\r')) ++*i;
}

/* A quoted string; *s / *len point into h. */
static int dst__npy_string(const char *h, size_t n, size_t *i, const char **s, size_t *len)
{
    char q;
    size_t start;
    dst__npy_space(h, n, i);
    if (*i >= n || (h[*i] != '\'' && h[*i] != '"')) return 0;
    q = h[(*i)++];
    start = *i;
    while (*i < n && h[*i] != q) ++*i;
    if (*i >= n) return 0;
    *s = h + start;
    *len = *i - start;
    ++*i;
    return 1;
}

static int dst__npy_char(const char *h, size_t n, size_t *i, char c)
{
    dst__npy_space(h, n, i);
    if (*i < n && h[*i] == c) { ++*i; return 1; }
    return 0;
}

DSTDEF dst_result dst_npy_parse(const void *buf, size_t len, dst_npy *out, dst_error *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    const char *h, *descr = NULL;
    size_t hlen, pre, i = 0, dlen = 0, count = 1, bytes;
    int fortran = -1, have_shape = 0, big = 0, d;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!buf) return dst__err(err, DST_ERR_ARG, "buffer is NULL");
    if (len < 10 || memcmp(p, "\x93NUMPY", 6) != 0) return dst__err(err, DST_ERR_FORMAT, "npy, byte 0: wrong magic (not a .npy file)");
    if (p[6] < 1 || p[6] > 3) return dst__err(err, DST_ERR_FORMAT, "npy, byte 6: version %u.%u unknown", p[6], p[7]);
    if (p[6] == 1) { hlen = dst__get16(p + 8); pre = 10; }
    else {
        if (len < 12) return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: truncated header", (unsigned long)len);
        hlen = dst__get32(p + 8);
        pre = 12;
    }
    if (hlen > len - pre) return dst__err(err, DST_ERR_FORMAT, "npy, byte 8: header of %lu bytes, %lu remain",
                                          (unsigned long)hlen, (unsigned long)(len - pre));
    h = (const char *)p + pre;
    if (!dst__npy_char(h, hlen, &i, '{')) return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: header is not a dict", (unsigned long)pre);
    while (!dst__npy_char(h, hlen, &i, '}')) {
        const char *key;
        size_t klen;
        if (!dst__npy_string(h, hlen, &i, &key, &klen) || !dst__npy_char(h, hlen, &i, ':'))
            return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: expected 'key':", (unsigned long)(pre + i));
        if (klen == 5 && memcmp(key, "descr", 5) == 0) {
            if (!dst__npy_string(h, hlen, &i, &descr, &dlen))
                return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: descr is not a string", (unsigned long)(pre + i));
        } else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0) {
            dst__npy_space(h, hlen, &i);
            if (hlen - i >= 4 && memcmp(h + i, "True", 4) == 0) { fortran = 1; i += 4; }
            else if (hlen - i >= 5 && memcmp(h + i, "False", 5) == 0) { fortran = 0; i += 5; }
            else return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: fortran_order is not True or False", (unsigned long)(pre + i));
        } else if (klen == 5 && memcmp(key, "shape", 5) == 0) {
            if (!dst__npy_char(h, hlen, &i, '('))
                return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: shape is not a tuple", (unsigned long)(pre + i));
            while (!dst__npy_char(h, hlen, &i, ')')) {
                size_t v = 0, digits = 0;
                dst__npy_space(h, hlen, &i);
                while (i < hlen && h[i] >= '0' && h[i] <= '9') {
                    if (v > ((size_t)-1 - 9) / 10)
                        return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: dimension too large", (unsigned long)(pre + i));
                    v = v * 10 + (size_t)(h[i++] - '0');
                    ++digits;
                }
                if (!digits || out->ndim >= DST_NPY_MAX_DIMS)
                    return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: bad shape (at most %d dimensions)",
                                    (unsigned long)(pre + i), DST_NPY_MAX_DIMS);
                if (!dst__mul_ok(count, v, &count))
                    return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: element count overflows", (unsigned long)(pre + i));
                out->shape[out->ndim++] = v;
                if (!dst__npy_char(h, hlen, &i, ',') && !(dst__npy_space(h, hlen, &i), i < hlen && h[i] == ')'))
                    return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: bad shape tuple", (unsigned long)(pre + i));
            }
            have_shape = 1;
        } else {
            return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: unknown header key '%.*s'", (unsigned long)(pre + i),
                            (int)(klen < 32 ? klen : 32), key);
        }
        if (!dst__npy_char(h, hlen, &i, ',')) {
            if (!dst__npy_char(h, hlen, &i, '}'))
                return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: expected , or }", (unsigned long)(pre + i));
            break;
        }
    }
    if (!descr || fortran < 0 || !have_shape) {
        memset(out, 0, sizeof *out);
        return dst__err(err, DST_ERR_FORMAT, "npy: the header lacks descr, fortran_order or shape");
    }
    if (dlen == 3 && (descr[0] == '<' || descr[0] == '>') && descr[2] == '4' && (descr[1] == 'f' || descr[1] == 'i')) {
        out->dtype = descr[1] == 'f' ? DST_NPY_FLOAT32 : DST_NPY_INT32;
        big = descr[0] == '>';
    } else {
        int n = (int)(dlen < 16 ? dlen : 16);
        memset(out, 0, sizeof *out);
        return dst__err(err, DST_ERR_UNSUPPORTED, "npy: dtype '%.*s'; distill.h reads float32 ('<f4') and int32 ('<i4')", n, descr);
    }
    if (fortran) {
        memset(out, 0, sizeof *out);
        return dst__err(err, DST_ERR_UNSUPPORTED, "npy: Fortran order; save a C-order array (numpy.ascontiguousarray)");
    }
    if (!dst__mul_ok(count, 4, &bytes) || bytes != len - pre - hlen) {
        size_t have = len - pre - hlen;
        memset(out, 0, sizeof *out);
        return dst__err(err, DST_ERR_FORMAT, "npy, byte %lu: the shape needs %lu data bytes, the file has %lu",
                        (unsigned long)(pre + hlen), (unsigned long)(count > (size_t)-1 / 4 ? (size_t)-1 : count * 4),
                        (unsigned long)have);
    }
    out->count = count;
    if (!(out->data = dst__alloc_aligned(bytes ? bytes : 4, NULL))) {
        memset(out, 0, sizeof *out);
        return dst__err(err, DST_ERR_NOMEM, "npy: %lu bytes", (unsigned long)bytes);
    }
    p += pre + hlen;
    if (!big && dst__host_little_endian()) {
        memcpy(out->data, p, bytes);
    } else { /* element by element, whatever the host's order */
        unsigned char *o = (unsigned char *)out->data;
        for (i = 0; i < bytes; i += 4) {
            uint32_t u = big ? dst__be32(p + i) : dst__get32(p + i);
            memcpy(o + i, &u, 4);
        }
    }
    (void)d;
    return DST_OK;
}

DSTDEF void dst_npy_free(dst_npy *a)
{
    if (!a) return;
    dst__free_aligned(a->data, NULL);
    memset(a, 0, sizeof *a);
}

DSTDEF dst_result dst_npy_write(dst_write_fn write, void *user, dst_npy_dtype dtype, const void *data, int ndim,
                                const size_t *shape, dst_error *err)
{
    char h[512];
    size_t n, count = 1, bytes, total;
    unsigned char pre[10];
    int d;
    dst__err_clear(err);
    if (!write || (!data && ndim != 0) || ndim < 0 || ndim > DST_NPY_MAX_DIMS || (ndim && !shape) ||
        (dtype != DST_NPY_FLOAT32 && dtype != DST_NPY_INT32))
        return dst__err(err, DST_ERR_ARG, "npy write: bad arguments (callback, data, ndim 0 to %d, shape, dtype)",
                        DST_NPY_MAX_DIMS);
    n = (size_t)sprintf(h, "{'descr': '<%s', 'fortran_order': False, 'shape': (", dtype == DST_NPY_FLOAT32 ? "f4" : "i4");
    for (d = 0; d < ndim; ++d) {
        if (!dst__mul_ok(count, shape[d], &count)) return dst__err(err, DST_ERR_ARG, "npy write: shape overflows");
        n += (size_t)sprintf(h + n, "%llu%s", (unsigned long long)shape[d], ndim == 1 || d + 1 < ndim ? ", " : "");
    }
    if (ndim == 1) n -= 1; /* "(3,)" */
    n += (size_t)sprintf(h + n, "), }");
    if (!dst__mul_ok(count, 4, &bytes)) return dst__err(err, DST_ERR_ARG, "npy write: shape overflows");
    total = dst__round_up(10 + n + 1, 64);
    while (10 + n + 1 < total) h[n++] = ' ';
    h[n++] = '\n';
    memcpy(pre, "\x93NUMPY\x01\x00", 8);
    dst__put16(pre + 8, (unsigned)n);
    if (write(user, pre, 10) || write(user, h, n)) return dst__err(err, DST_ERR_IO, "npy write: the write callback failed");
    if (dst__host_little_endian()) {
        if (bytes && write(user, data, bytes)) return dst__err(err, DST_ERR_IO, "npy write: the write callback failed");
    } else { /* element by element, whatever the host's order */
        const unsigned char *s = (const unsigned char *)data;
        size_t i;
        for (i = 0; i < bytes; i += 4) {
            unsigned char b[4];
            uint32_t u;
            memcpy(&u, s + i, 4);
            dst__put32(b, u);
            if (write(user, b, 4)) return dst__err(err, DST_ERR_IO, "npy write: the write callback failed");
        }
    }
    return DST_OK;
}

#ifndef DST_NO_STDIO
DSTDEF dst_result dst_npy_load(const char *path, dst_npy *out, dst_error *err)
{
    unsigned char *buf;
    size_t len;
    dst_result r;
    dst__err_clear(err);
    if (out) memset(out, 0, sizeof *out);
    if (!out || !path) return dst__err(err, DST_ERR_ARG, "out or path is NULL");
    if ((r = dst__read_file(path, &buf, &len, NULL, err)) != DST_OK) return r;
    r = dst_npy_parse(buf, len, out, err);
    DST_FREE(buf, NULL);
    if (r != DST_OK && r != DST_ERR_NOMEM) dst__err_wrap(err, path, "");
    return r;
}

typedef struct dst__npy_save {
    dst_npy_dtype dtype;
    const void   *data;
    int           ndim;
    const size_t *shape;
} dst__npy_save;

static dst_result dst__npy_emit(const void *what, dst_write_fn write, void *user, dst_error *err)
{
    const dst__npy_save *a = (const dst__npy_save *)what;
    return dst_npy_write(write, user, a->dtype, a->data, a->ndim, a->shape, err);
}

DSTDEF dst_result dst_npy_save(const char *path, dst_npy_dtype dtype, const void *data, int ndim,
                               const size_t *shape, dst_error *err)
{
    dst__npy_save a;
    dst__err_clear(err);
    if (!path) return dst__err(err, DST_ERR_ARG, "path is NULL");
    a.dtype = dtype;
    a.data = data;
    a.ndim = ndim;
    a.shape = shape;
    return dst__save_atomic(path, dst__npy_emit, &a, err);
}
#endif

DSTDEF dst_result dst_teacher_from_npy(const dst_npy *a, dst_teacher *out, dst_error *err)
{
    dst__err_clear(err);
    if (!a || !out) return dst__err(err, DST_ERR_ARG, "array or out is NULL");
    if (a->dtype != DST_NPY_FLOAT32 || a->ndim != 2 || a->shape[0] < 1 || a->shape[1] < 1 || a->shape[1] > INT_MAX)
        return dst__err(err, DST_ERR_ARG, "teacher logits must be a 2-D float32 array (rows x classes), not %d-D %s",
                        a->ndim, a->dtype == DST_NPY_FLOAT32 ? "float32" : "int32");
    *out = dst_teacher_logits((const float *)a->data, a->shape[0], (int)a->shape[1]);
    return DST_OK;
}

DSTDEF dst_result dst_dataset_from_npy(const dst_npy *features, const dst_npy *labels, dst_dataset *out,
                                       dst_error *err)
{
    size_t i, n, ss = 1;
    int d;
    dst_result r;
    const int32_t *lab;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!features || !labels) return dst__err(err, DST_ERR_ARG, "features or labels is NULL");
    if (features->dtype != DST_NPY_FLOAT32 || (features->ndim != 2 && features->ndim != 4))
        return dst__err(err, DST_ERR_FORMAT, "features: a %d-D %s array; expected float32, N x F or N x C x H x W",
                        features->ndim, features->dtype == DST_NPY_FLOAT32 ? "float32" : "int32");
    if (labels->dtype != DST_NPY_INT32 || labels->ndim != 1)
        return dst__err(err, DST_ERR_FORMAT, "labels: a %d-D %s array; expected int32 of N (numpy: y.astype(numpy.int32))",
                        labels->ndim, labels->dtype == DST_NPY_FLOAT32 ? "float32" : "int32");
    n = features->shape[0];
    if (n == 0 || labels->shape[0] != n)
        return dst__err(err, DST_ERR_FORMAT, "%lu feature rows and %lu labels", (unsigned long)n, (unsigned long)labels->shape[0]);
    for (d = 1; d < features->ndim; ++d)
        if (features->shape[d] < 1 || features->shape[d] > INT_MAX || !dst__mul_ok(ss, features->shape[d], &ss))
            return dst__err(err, DST_ERR_FORMAT, "features: dimension %d is %lu", d, (unsigned long)features->shape[d]);
    lab = (const int32_t *)labels->data;
    for (i = 0; i < n; ++i)
        if (lab[i] < 0 || lab[i] > 65535)
            return dst__err(err, DST_ERR_FORMAT, "label %lu is %ld; class numbers are 0 to 65535", (unsigned long)i, (long)lab[i]);
    if ((r = dst__dataset_alloc(out, n, ss, err)) != DST_OK) return r;
    memcpy(out->x, features->data, n * ss * sizeof(float));
    for (i = 0; i < n; ++i) {
        out->y[i] = lab[i];
        if (lab[i] + 1 > out->classes) out->classes = lab[i] + 1;
    }
    for (i = 0; i < n * ss; ++i)
        if (!dst__finite(out->x[i])) {
            dst_dataset_free(out);
            return dst__err(err, DST_ERR_NONFINITE, "features: sample %lu, value %lu is not finite", (unsigned long)(i / ss),
                            (unsigned long)(i % ss));
        }
    out->count = n;
    if (features->ndim == 4) {
        out->channels = (int)features->shape[1]; out->height = (int)features->shape[2]; out->width = (int)features->shape[3];
    } else {
        out->channels = out->height = 1; out->width = (int)features->shape[1];
    }
    return DST_OK;
}

#endif /* DST_INFERENCE_ONLY (CSV, .npy) */

/* ==== images ==================================================== >>image */

DSTDEF dst_image_prep dst_image_prep_default(int channels, int height, int width)
{
    dst_image_prep p;
    int c;
    memset(&p, 0, sizeof p);
    p.channels = channels;
    p.height = height;
    p.width = width;
    p.scale = 1.0f / 255.0f;
    for (c = 0; c < 3; ++c) p.std[c] = 1.0f;
    return p;
}

/* One row or column: n_src values `stride_src` apart to n_dst values.
   Shrinking averages the source interval each output covers, weighting the
   pixels cut at its ends by the part inside; enlarging interpolates linearly
   between the two nearest source centres (edges clamped). */
static void dst__resample_line(const float *src, int n_src, int stride_src, float *dst, int n_dst, int stride_dst)
{
    double s = (double)n_src / (double)n_dst;
    int o;
    for (o = 0; o < n_dst; ++o) {
        double v = 0;
        if (n_src == n_dst) {
            v = (double)src[(size_t)o * (size_t)stride_src];
        } else if (s > 1) {
            double a = o * s, b = (o + 1) * s;
            int i = (int)a, end = (int)ceil(b);
            if (end > n_src) end = n_src;
            for (; i < end; ++i) {
                double lo = a > i ? a : i, hi = b < i + 1 ? b : i + 1;
                if (hi > lo) v += (hi - lo) * (double)src[(size_t)i * (size_t)stride_src];
            }
            v /= s;
        } else {
            double x = (o + 0.5) * s - 0.5, f;
            int i0;
            if (x < 0) x = 0;
            if (x > n_src - 1) x = n_src - 1;
            i0 = (int)x;
            f = x - i0;
            v = (double)src[(size_t)i0 * (size_t)stride_src];
            if (i0 + 1 < n_src) v += f * ((double)src[(size_t)(i0 + 1) * (size_t)stride_src] - v);
        }
        dst[(size_t)o * (size_t)stride_dst] = (float)v;
    }
}

DSTDEF void dst_image_resize(const float *src, int sh, int sw, float *dst, int dh, int dw, float *work)
{
    int i;
    if (!src || !dst || !work || sh < 1 || sw < 1 || dh < 1 || dw < 1) return;
    for (i = 0; i < sh; ++i) dst__resample_line(src + (size_t)i * sw, sw, 1, work + (size_t)i * dw, dw, 1);
    for (i = 0; i < dw; ++i) dst__resample_line(work + i, sh, dw, dst + i, dh, dw);
}

DSTDEF dst_result dst_image_to_input(const unsigned char *pixels, int width, int height, int comp,
                                     const dst_image_prep *prep, float *out, dst_error *err)
{
    size_t plane, n, i, src_bytes, work_n, dst_plane;
    float *buf;
    int c, ch;
    dst__err_clear(err);
    if (!pixels || !prep || !out) return dst__err(err, DST_ERR_ARG, "pixels, prep and out must not be NULL");
    if (width < 1 || height < 1) return dst__err(err, DST_ERR_ARG, "image is %dx%d", width, height);
    if (comp < 1 || comp > 4) return dst__err(err, DST_ERR_ARG, "%d components per pixel, expected 1 to 4", comp);
    ch = prep->channels;
    if (ch != 1 && ch != 3)
        return dst__err(err, DST_ERR_ARG, "the model takes %d channels; images give 1 (gray) or 3 (RGB)", ch);
    if (prep->height < 1 || prep->width < 1)
        return dst__err(err, DST_ERR_ARG, "input size %dx%d, must be at least 1x1", prep->height, prep->width);
    if (!(prep->scale > 0) || !dst__finite(prep->scale)) return dst__err(err, DST_ERR_ARG, "scale %g, must be > 0", (double)prep->scale);
    for (c = 0; c < ch; ++c)
        if (!dst__finite(prep->mean[c]) || !(prep->std[c] > 0) || !dst__finite(prep->std[c]))
            return dst__err(err, DST_ERR_ARG, "channel %d: mean %g, std %g (std must be > 0)", c,
                            (double)prep->mean[c], (double)prep->std[c]);
    if (!dst__mul_ok((size_t)width, (size_t)height, &plane) || !dst__mul_ok(plane, (size_t)comp, &src_bytes) ||
        !dst__mul_ok((size_t)prep->height, (size_t)prep->width, &dst_plane) ||
        !dst__mul_ok((size_t)height, (size_t)prep->width, &work_n) ||
        plane > ((size_t)-1) / sizeof(float) / 8 || work_n > ((size_t)-1) / sizeof(float) / 8)
        return dst__err(err, DST_ERR_ARG, "image %dx%d is too large", width, height);
    (void)src_bytes;
    n = plane * (size_t)ch + work_n;
    buf = (float *)DST_MALLOC(n * sizeof(float), NULL);
    if (!buf) return dst__err(err, DST_ERR_NOMEM, "image %dx%d", width, height);
    /* bytes to planar floats in [0, 255], alpha over white, channel conversion */
    for (i = 0; i < plane; ++i) {
        const unsigned char *p = pixels + i * (size_t)comp;
        float rgb[3], a = 1;
        if (comp <= 2) rgb[0] = rgb[1] = rgb[2] = p[0];
        else { rgb[0] = p[0]; rgb[1] = p[1]; rgb[2] = p[2]; }
        if (comp == 2 || comp == 4) a = p[comp - 1] / 255.0f;
        for (c = 0; c < 3; ++c) rgb[c] = a * rgb[c] + (1 - a) * 255.0f;
        if (ch == 1) buf[i] = comp <= 2 ? rgb[0] : 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
        else for (c = 0; c < 3; ++c) buf[(size_t)c * plane + i] = rgb[c];
    }
    for (c = 0; c < ch; ++c) {
        float *o = out + (size_t)c * dst_plane;
        dst_image_resize(buf + (size_t)c * plane, height, width, o, prep->height, prep->width, buf + (size_t)ch * plane);
        for (i = 0; i < dst_plane; ++i) {
            float v = o[i] * prep->scale;
            if (prep->invert) v = 1 - v;
            o[i] = (v - prep->mean[c]) / prep->std[c];
        }
    }
    DST_FREE(buf, NULL);
    return DST_OK;
}

#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(DST_NO_STDIO)
DSTDEF dst_result dst_image_load(const char *path, const dst_image_prep *prep, float *out, dst_error *err)
{
    int w, h, comp;
    unsigned char *px;
    dst_result r;
    dst__err_clear(err);
    if (!path) return dst__err(err, DST_ERR_ARG, "path is NULL");
    px = stbi_load(path, &w, &h, &comp, 0);
    if (!px) {
        FILE *f = fopen(path, "rb");
        if (!f) return dst__err(err, DST_ERR_IO, "cannot open %.200s", path);
        fclose(f);
        return dst__err(err, DST_ERR_FORMAT, "%.200s: not an image stb_image can read (%s)", path, stbi_failure_reason());
    }
    r = dst_image_to_input(px, w, h, comp, prep, out, err);
    stbi_image_free(px);
    if (r != DST_OK && err) {
        char msg[256];
        memcpy(msg, err->message, sizeof msg);
        snprintf(err->message, sizeof err->message, "%.100s: %.150s", path, msg);
    }
    return r;
}
#endif

/* ---- folders of images ---- */

#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(DST_NO_STDIO) && !defined(DST_INFERENCE_ONLY)
/* A directory's entries of one kind (folders, or files whose names end in
   an image extension), sorted by byte value. */
typedef struct dst__list { char **v; int n, cap; } dst__list;

static void dst__list_free(dst__list *l)
{
    int i;
    for (i = 0; i < l->n; ++i) DST_FREE(l->v[i], NULL);
    DST_FREE(l->v, NULL);
    memset(l, 0, sizeof *l);
}

static int dst__list_add(dst__list *l, const char *name)
{
    size_t k = strlen(name) + 1;
    if (l->n == l->cap) {
        int ncap = l->cap ? 2 * l->cap : 64;
        char **nv;
        if (ncap > (1 << 24) || !(nv = (char **)DST_REALLOC(l->v, (size_t)ncap * sizeof(char *), NULL))) return 0;
        l->v = nv;
        l->cap = ncap;
    }
    if (!(l->v[l->n] = (char *)DST_MALLOC(k, NULL))) return 0;
    memcpy(l->v[l->n++], name, k);
    return 1;
}

static int dst__list_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int dst__is_image_name(const char *name)
{
    static const char *ext[] = { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga" };
    size_t n = strlen(name), k, i;
    for (i = 0; i < sizeof ext / sizeof ext[0]; ++i) {
        k = strlen(ext[i]);
        if (n > k) {
            size_t j;
            for (j = 0; j < k && (name[n - k + j] | 0x20) == ext[i][j]; ++j) {}
            if (j == k) return 1;
        }
    }
    return 0;
}

/* want_dirs 1: the subfolders (not starting with '.'); 0: the image files. */
static dst_result dst__list_dir(const char *dir, int want_dirs, dst__list *out, dst_error *err)
{
    char path[1024];
#if defined(_WIN32)
    WIN32_FIND_DATAA fd;
    HANDLE h;
    memset(out, 0, sizeof *out);
    if (snprintf(path, sizeof path, "%s\\*", dir) >= (int)sizeof path) return dst__err(err, DST_ERR_ARG, "path too long: %.200s", dir);
    if ((h = FindFirstFileA(path, &fd)) == INVALID_HANDLE_VALUE) return dst__err(err, DST_ERR_IO, "cannot open folder %.200s", dir);
    do {
        int is_dir = (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
        if (fd.cFileName[0] == '.' || is_dir != want_dirs || (!is_dir && !dst__is_image_name(fd.cFileName))) continue;
        if (!dst__list_add(out, fd.cFileName)) { FindClose(h); dst__list_free(out); return dst__err(err, DST_ERR_NOMEM, "listing %.200s", dir); }
    } while (FindNextFileA(h, &fd));
    FindClose(h);
#else
    DIR *d;
    struct dirent *e;
    memset(out, 0, sizeof *out);
    if (!(d = opendir(dir))) return dst__err(err, DST_ERR_IO, "cannot open folder %.200s", dir);
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        int is_dir;
        if (e->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path || stat(path, &st) != 0) continue;
        is_dir = S_ISDIR(st.st_mode) ? 1 : 0;
        if (is_dir != want_dirs || (!is_dir && !dst__is_image_name(e->d_name))) continue;
        if (!dst__list_add(out, e->d_name)) { closedir(d); dst__list_free(out); return dst__err(err, DST_ERR_NOMEM, "listing %.200s", dir); }
    }
    closedir(d);
#endif
    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof(char *), dst__list_cmp);
    return DST_OK;
}

/* The class of each subfolder (map), from the given names or the folders'. */
static dst_result dst__folder_classes(const char *dir, const dst__list *sub, const char *const *classes, int class_count,
                                      int *map, dst_dataset *out, dst_error *err)
{
    int i, j;
    if (sub->n == 0) return dst__err(err, DST_ERR_FORMAT, "%.200s: no class folders (expected %.100s/<class>/<images>)", dir, dir);
    if (!classes) {
        for (i = 0; i < sub->n; ++i) map[i] = i;
        out->classes = sub->n;
        return dst__names_copy((const char *const *)sub->v, sub->n, &out->class_names, err);
    }
    for (i = 0; i < sub->n; ++i) {
        for (j = 0; j < class_count && (!classes[j] || strcmp(classes[j], sub->v[i]) != 0); ++j) {}
        if (j == class_count)
            return dst__err(err, DST_ERR_FORMAT, "%.200s/%.100s: not one of the %d known classes", dir, sub->v[i], class_count);
        map[i] = j;
    }
    out->classes = class_count;
    return dst__names_copy(classes, class_count, &out->class_names, err);
}

/* Every image file of every class folder, in order, with its class. */
static dst_result dst__folder_files(const char *dir, const dst__list *sub, const int *map, dst__list *files,
                                    int **labels, dst_error *err)
{
    char path[1024];
    int i, k, cap = 0;
    dst_result r;
    memset(files, 0, sizeof *files);
    *labels = NULL;
    for (i = 0; i < sub->n; ++i) {
        dst__list one;
        if (snprintf(path, sizeof path, "%s/%s", dir, sub->v[i]) >= (int)sizeof path) return dst__err(err, DST_ERR_ARG, "path too long: %.200s", dir);
        if ((r = dst__list_dir(path, 0, &one, err)) != DST_OK) return r;
        if (one.n == 0) { dst__list_free(&one); return dst__err(err, DST_ERR_FORMAT, "%.250s: no images (.png .jpg .bmp ...)", path); }
        for (k = 0; k < one.n; ++k) {
            char full[1024];
            if (snprintf(full, sizeof full, "%s/%s", path, one.v[k]) >= (int)sizeof full ||
                !dst__list_add(files, full)) { dst__list_free(&one); return dst__err(err, DST_ERR_NOMEM, "listing %.200s", path); }
            if (files->n > cap) {
                int *nl = (int *)DST_REALLOC(*labels, (size_t)files->cap * sizeof(int), NULL);
                if (!nl) { dst__list_free(&one); return dst__err(err, DST_ERR_NOMEM, "listing %.200s", path); }
                *labels = nl;
                cap = files->cap;
            }
            (*labels)[files->n - 1] = map[i];
        }
        dst__list_free(&one);
    }
    return DST_OK;
}

/* A message into the folder's own 256-byte buffer (its batch function has no dst_error). */
static dst_result dst__vfail_to(char *buf, dst_result code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    code = dst__vfail(buf, code, fmt, ap);
    va_end(ap);
    return code;
}

/* A folder opened for streaming: its files, their classes, how to decode them. */
struct dst_image_folder {
    dst__list     files;
    dst_dataset   info;      /* x NULL; y, count, shape, classes, class_names */
    dst_image_prep prep;     /* height and width fixed */
    int           any_size;  /* 1: the size came from the first picture; another size is an error */
    char          error[256];
};

DSTDEF void dst_image_folder_close(dst_image_folder *f)
{
    if (!f) return;
    dst__list_free(&f->files);
    dst_dataset_free(&f->info);
    DST_FREE(f, NULL);
}

DSTDEF const dst_dataset *dst_image_folder_info(const dst_image_folder *f) { return f ? &f->info : NULL; }
DSTDEF const char *dst_image_folder_error(const dst_image_folder *f) { return f ? f->error : "folder is NULL"; }

/* The picture of file i into out (sample_size floats), as f->prep says. */
static dst_result dst__folder_decode(dst_image_folder *f, size_t i, float *out)
{
    int w, h, comp;
    dst_error e;
    dst_result r;
    const char *path = f->files.v[i];
    unsigned char *px = stbi_load(path, &w, &h, &comp, 0);
    if (!px)
        return dst__vfail_to(f->error, DST_ERR_FORMAT, "%.200s: not an image stb_image can read (%s)", path, stbi_failure_reason());
    if (f->any_size && (w != f->prep.width || h != f->prep.height)) {
        stbi_image_free(px);
        return dst__vfail_to(f->error, DST_ERR_FORMAT, "%.180s is %dx%d, the first image %dx%d: give the size to resize to",
                             path, h, w, f->prep.height, f->prep.width);
    }
    r = dst_image_to_input(px, w, h, comp, &f->prep, out, &e);
    stbi_image_free(px);
    if (r != DST_OK) return dst__vfail_to(f->error, r, "%.100s: %.150s", path, e.message);
    return DST_OK;
}

DSTDEF dst_result dst_image_folder_batch(void *folder, const size_t *indices, int batch, float *x, int *labels)
{
    dst_image_folder *f = (dst_image_folder *)folder;
    size_t ss;
    int k;
    dst_result r;
    if (!f || (!indices && batch > 0) || !x || batch < 0) return DST_ERR_ARG;
    ss = dst_dataset_sample_size(&f->info);
    for (k = 0; k < batch; ++k) {
        if (indices[k] >= f->info.count)
            return dst__vfail_to(f->error, DST_ERR_ARG, "index %lu of %lu pictures", (unsigned long)indices[k],
                                 (unsigned long)f->info.count);
        if ((r = dst__folder_decode(f, indices[k], x + (size_t)k * ss)) != DST_OK) return r;
        if (labels) labels[k] = f->info.y[indices[k]];
    }
    return DST_OK;
}

DSTDEF dst_result dst_image_folder_open(dst_image_folder **out, const char *dir, const dst_image_prep *prep,
                                        const char *const *classes, int class_count, dst_error *err)
{
    dst__list sub;
    dst_image_folder *f;
    int *map = NULL, w, h, comp;
    dst_result r;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    *out = NULL;
    if (!dir || !prep) return dst__err(err, DST_ERR_ARG, "dir or prep is NULL");
    if (prep->channels != 1 && prep->channels != 3) return dst__err(err, DST_ERR_ARG, "channels %d: 1 or 3", prep->channels);
    if (prep->height < 0 || prep->width < 0 || (prep->height == 0) != (prep->width == 0))
        return dst__err(err, DST_ERR_ARG, "size %dx%d: both 0 (the first image's) or both >= 1", prep->height, prep->width);
    if (classes && (class_count < 1 || class_count > DST_CSV_MAX_CLASSES))
        return dst__err(err, DST_ERR_ARG, "class_count %d: 1 to %d", class_count, DST_CSV_MAX_CLASSES);
    if (!(f = (dst_image_folder *)DST_MALLOC(sizeof *f, NULL))) return dst__err(err, DST_ERR_NOMEM, "folder");
    memset(f, 0, sizeof *f);
    f->prep = *prep;
    if ((r = dst__list_dir(dir, 1, &sub, err)) != DST_OK) { DST_FREE(f, NULL); return r; }
    if (!(map = (int *)DST_MALLOC((size_t)sub.n * sizeof(int) + 1, NULL))) r = dst__err(err, DST_ERR_NOMEM, "folders");
    if (r == DST_OK) r = dst__folder_classes(dir, &sub, classes, class_count, map, &f->info, err);
    if (r == DST_OK) r = dst__folder_files(dir, &sub, map, &f->files, &f->info.y, err);
    dst__list_free(&sub);
    DST_FREE(map, NULL);
    if (r == DST_OK && f->prep.height == 0) { /* the first picture's size */
        if (!stbi_info(f->files.v[0], &w, &h, &comp))
            r = dst__err(err, DST_ERR_FORMAT, "%.200s: not an image stb_image can read (%s)", f->files.v[0], stbi_failure_reason());
        f->prep.height = h;
        f->prep.width = w;
        f->any_size = 1;
    }
    if (r == DST_OK && !dst__product_le(f->prep.channels, f->prep.height, f->prep.width, dst__limit_of(DST_MAX_ACTIVATION_FLOATS)))
        r = dst__err(err, DST_ERR_FORMAT, "images of %dx%dx%d are too large", f->prep.channels, f->prep.height, f->prep.width);
    if (r != DST_OK) { dst_image_folder_close(f); return r; }
    f->info.count = (size_t)f->files.n;
    f->info.channels = f->prep.channels;
    f->info.height = f->prep.height;
    f->info.width = f->prep.width;
    *out = f;
    return DST_OK;
}

DSTDEF dst_result dst_image_folder_load(const char *dir, const dst_image_prep *prep, const char *const *classes,
                                        int class_count, dst_dataset *out, dst_error *err)
{
    dst_image_folder *f;
    size_t i, ss;
    dst_result r;
    dst__err_clear(err);
    if (!out) return dst__err(err, DST_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if ((r = dst_image_folder_open(&f, dir, prep, classes, class_count, err)) != DST_OK) return r;
    ss = dst_dataset_sample_size(&f->info);
    r = dst__dataset_alloc(out, f->info.count, ss, err);
    for (i = 0; r == DST_OK && i < f->info.count; ++i)
        if ((r = dst_image_folder_batch(f, &i, 1, out->x + i * ss, out->y + i)) != DST_OK)
            dst__err(err, r, "%s", f->error);
    if (r == DST_OK) {
        out->count = f->info.count;
        out->channels = f->info.channels; out->height = f->info.height; out->width = f->info.width;
        out->classes = f->info.classes;
        out->class_names = f->info.class_names;
        f->info.class_names = NULL;
    }
    dst_image_folder_close(f);
    if (r != DST_OK) dst_dataset_free(out);
    return r;
}
#endif

DSTDEF dst_image_prep dst_image_prep_from_model(const dst_model *m)
{
    dst_image_prep p = dst_image_prep_default(m ? m->in_c : 0, m ? (m->in_h < 1 ? 1 : m->in_h) : 0,
                                              m ? (m->in_w < 1 ? 1 : m->in_w) : 0);
    float mean[3], std[3], scale;
    int n, c;
    if (!m) return p;
    n = dst_model_normalization(m, &scale, mean, std, 3);
    {
        double s;
        if (dst_model_meta_number(m, "input.scale", &s)) p.scale = scale; /* else the default 1/255 */
    }
    if (n == 1 || (n == m->in_c && n <= 3))
        for (c = 0; c < 3; ++c) {
            p.mean[c] = mean[n == 1 ? 0 : c < n ? c : 0];
            p.std[c] = std[n == 1 ? 0 : c < n ? c : 0];
        }
    return p;
}

#if defined(__clang__)
#pragma STDC FP_CONTRACT DEFAULT
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
#endif /* DISTILL_IMPLEMENTATION_DONE */
#endif /* DISTILL_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the distill.h authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the public
domain. We make this dedication in perpetuity for the benefit of our heirs and
successors. We intend this dedication to be an overt act of relinquishment in
perpetuity of all present and future rights to this software under copyright
law.
------------------------------------------------------------------------------
*/
