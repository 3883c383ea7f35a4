/* tools/distill/distill.c - the `distill` command: train, distill, evaluate,
   predict with and export small networks from the shell, no C to write.

   cc -O2 -I. -I/usr/include/stb tools/distill/distill.c -lm -pthread -o build/distill

   distill train   --data DIR --arch SPEC --epochs N [options] --out MODEL
   distill train   --data TRAIN.csv [--test TEST.csv] --label COLUMN --arch SPEC ...
   distill distill --data DIR --teacher MODEL --arch SPEC --temperature T --alpha A
                   --epochs N [options] --out MODEL      (or --teacher-logits FILE.npy)
                   [--unlabeled FILE: images without labels, soft targets only]
                   [--teacher MODEL2 ... [--teacher-weights W1,W2,...]: an ensemble]
                   [--augment shift:P,flip,mixup:A,noise:S (train too)]
   distill eval    --data DIR --model MODEL [--split test|train]
   (DIR: an IDX directory or a folder of images DIR/<class>/; or --train-x/--train-y .npy)
   distill predict --model MODEL [--top K] [--invert auto|yes|no] IMAGE...
   distill info    MODEL
   distill export-c     MODEL [--name NAME] > model.h
   distill export-bytes MODEL [--name NAME] > model_bytes.h
   distill plot    --out FILE.png|FILE.svg [--title TEXT] LOG.csv...
   train, distill, eval and predict take --threads N (default: one per core).
   `distill help` prints every option and the SPEC grammar (README.md too).

   Exit status: 0 success, 1 a failure while working (a file, the data, the
   training), 2 a bad command line. Errors are one line on stderr.

   This file is the whole build: it includes the parts, one job each, into
   one translation unit (so the one cc line above stays one line, every
   function stays static, and the compiler sees the program whole):
     cli.h     what the parts share: includes, the parsed command line, prototypes
     common.c  errors and numbers, class names, model helpers, the --threads pool
     data.c    the data: IDX, CSV, .npy, image folders; splits; normalisation
     spec.c    the SPEC grammar
     unlabeled.c  distill's transfer set (--unlabeled), the lr schedule options
     augment.c    --augment, several teachers (--teacher more than once, --teacher-weights)
     train.c   train and distill
     model.c   eval, predict, info
     export.c  export-c and export-bytes
     export_int8.c  export-c of an int8 model
     plot.c    plot (and train --plot)
     main.c    options, usage, main */
#include "cli.h"
#include "common.c"
#include "data.c"
#include "spec.c"
#include "unlabeled.c"
#include "augment.c"
#include "train.c"
#include "model.c"
#include "export.c"
#include "export_int8.c"
#include "plot.c"
#include "main.c"
