/* tools/distill/plot.c - `distill plot` and --plot: training curves as SVG
   or PNG, read back from the CSV logs train --log writes.
   Part of the distill command (built through distill.c). */
#include "cli.h"

/* ==== plots: training curves as SVG or PNG ================================ */

/* One drawing, two back ends: SVG text, or an RGB raster saved with
   stb_image_write (lines anti-aliased by their distance to each pixel,
   text from stb_easy_font). */
typedef struct canvas {
    FILE *svg;
    unsigned char *px;
    int w, h;
} canvas;

static const unsigned plot_colors[] = { 0x1f77b4, 0xd62728, 0x2ca02c, 0xff7f0e, 0x9467bd, 0x8c564b };
#define TEXT_SCALE 2.0f

static void px_blend(canvas *c, int x, int y, unsigned rgb, float a)
{
    unsigned char *p;
    int k;
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || a <= 0) return;
    if (a > 1) a = 1;
    p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    for (k = 0; k < 3; ++k) {
        float v = (float)((rgb >> (16 - 8 * k)) & 255);
        p[k] = (unsigned char)(p[k] + (v - p[k]) * a + 0.5f);
    }
}

static void cv_rect(canvas *c, float x0, float y0, float x1, float y1, unsigned rgb)
{
    int x, y;
    if (c->svg) {
        fprintf(c->svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#%06x\"/>\n", (double)x0,
                (double)y0, (double)(x1 - x0), (double)(y1 - y0), rgb);
        return;
    }
    for (y = (int)floorf(y0); y < (int)ceilf(y1); ++y)
        for (x = (int)floorf(x0); x < (int)ceilf(x1); ++x) {
            float cx = fminf(x + 1.0f, x1) - fmaxf((float)x, x0), cy = fminf(y + 1.0f, y1) - fmaxf((float)y, y0);
            if (cx > 0 && cy > 0) px_blend(c, x, y, rgb, cx * cy);
        }
}

/* A solid segment of the given width: each pixel covered by how close its centre is. */
static void cv_segment(canvas *c, float x0, float y0, float x1, float y1, unsigned rgb, float width)
{
    float dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy, r = width / 2 + 1;
    int x, y, xa = (int)floorf(fminf(x0, x1) - r), xb = (int)ceilf(fmaxf(x0, x1) + r);
    int ya = (int)floorf(fminf(y0, y1) - r), yb = (int)ceilf(fmaxf(y0, y1) + r);
    for (y = ya; y <= yb; ++y)
        for (x = xa; x <= xb; ++x) {
            float px = x + 0.5f - x0, py = y + 0.5f - y0, t = len2 > 0 ? (px * dx + py * dy) / len2 : 0, ex, ey;
            if (t < 0) t = 0;
            if (t > 1) t = 1;
            ex = px - t * dx;
            ey = py - t * dy;
            px_blend(c, x, y, rgb, width / 2 + 0.5f - sqrtf(ex * ex + ey * ey));
        }
}

static void cv_line(canvas *c, float x0, float y0, float x1, float y1, unsigned rgb, float width, int dashed)
{
    if (c->svg) {
        fprintf(c->svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#%06x\" stroke-width=\"%.1f\"%s/>\n",
                (double)x0, (double)y0, (double)x1, (double)y1, rgb, (double)width, dashed ? " stroke-dasharray=\"7,5\"" : "");
        return;
    }
    if (!dashed) { cv_segment(c, x0, y0, x1, y1, rgb, width); return; }
    {
        float len = sqrtf((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0)), s;
        for (s = 0; s < len; s += 12) {
            float e = fminf(s + 7, len);
            cv_segment(c, x0 + (x1 - x0) * s / len, y0 + (y1 - y0) * s / len, x0 + (x1 - x0) * e / len,
                       y0 + (y1 - y0) * e / len, rgb, width);
        }
    }
}

static void cv_dot(canvas *c, float x, float y, float radius, unsigned rgb)
{
    int px, py;
    if (c->svg) {
        fprintf(c->svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"#%06x\"/>\n", (double)x, (double)y,
                (double)radius, rgb);
        return;
    }
    for (py = (int)(y - radius - 1); py <= (int)(y + radius + 1); ++py)
        for (px = (int)(x - radius - 1); px <= (int)(x + radius + 1); ++px) {
            float dx = px + 0.5f - x, dy = py + 0.5f - y;
            px_blend(c, px, py, rgb, radius + 0.5f - sqrtf(dx * dx + dy * dy));
        }
}

/* Text centred vertically on y; align -1 left, 0 centre, 1 right. */
static void cv_text(canvas *c, float x, float y, const char *s, unsigned rgb, int align)
{
    if (c->svg) {
        const char *anchor = align < 0 ? "start" : align == 0 ? "middle" : "end";
        fprintf(c->svg, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#%06x\" text-anchor=\"%s\" dominant-baseline=\"middle\">",
                (double)x, (double)y, rgb, anchor);
        for (; *s; ++s) {
            if (*s == '<') fputs("&lt;", c->svg);
            else if (*s == '&') fputs("&amp;", c->svg);
            else if (*s == '>') fputs("&gt;", c->svg);
            else fputc(*s, c->svg);
        }
        fputs("</text>\n", c->svg);
        return;
    }
    {
        static float vb[15000]; /* stb_easy_font's quads: 4 vertices of 16 bytes each (x, y, z, color) */
        char text[256];
        float w, s2 = TEXT_SCALE;
        int quads, q;
        snprintf(text, sizeof text, "%s", s);
        w = (float)stb_easy_font_width(text) * s2;
        x -= align < 0 ? 0 : align == 0 ? w / 2 : w;
        y -= 3.5f * s2;
        quads = stb_easy_font_print(0, 0, text, NULL, vb, (int)sizeof vb);
        for (q = 0; q < quads; ++q) {
            const float *v0 = vb + q * 16, *v2 = vb + q * 16 + 8;
            cv_rect(c, x + v0[0] * s2, y + v0[1] * s2, x + v2[0] * s2, y + v2[1] * s2, rgb);
        }
    }
}

/* A step of 1, 2 or 5 times a power of ten, giving about n ticks. */
static double nice_step(double range, int n)
{
    double raw = range / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

typedef struct panel { float x0, y0, x1, y1; double lo, hi; int epochs; } panel;

static float panel_x(const panel *p, double epoch)
{
    return p->epochs > 1 ? p->x0 + (float)((epoch - 1) / (p->epochs - 1)) * (p->x1 - p->x0) : (p->x0 + p->x1) / 2;
}
static float panel_y(const panel *p, double v) { return p->y1 - (float)((v - p->lo) / (p->hi - p->lo)) * (p->y1 - p->y0); }

static void draw_panel(canvas *c, panel *p, const char *title, const plot_series *s, int count, int col_train, int col_test)
{
    double lo = 1e30, hi = -1e30, step, t;
    int i, k, e, xstep;
    char buf[32];
    for (i = 0; i < count; ++i)
        for (e = 0; e < s[i].cv.n; ++e)
            for (k = col_train < 0; k < 2; ++k) {
                double v = (double)s[i].cv.v[e * CURVE_COLS + (k ? col_test : col_train)];
                if (v < 0) continue; /* -1: no test set */
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
    if (lo > hi) lo = 0, hi = 1;
    if (hi - lo < 1e-6) lo -= 0.05, hi += 0.05;
    step = nice_step(hi - lo, 5);
    p->lo = floor(lo / step) * step;
    p->hi = ceil(hi / step) * step;
    cv_rect(c, p->x0, p->y0, p->x1, p->y1, 0xf6f6f6);
    for (t = p->lo; t <= p->hi + step * 0.01; t += step) {
        float y = panel_y(p, t);
        cv_line(c, p->x0, y, p->x1, y, 0xdddddd, 1, 0);
        snprintf(buf, sizeof buf, step < 0.01 ? "%.3f" : step < 0.1 ? "%.2f" : step < 1 ? "%.1f" : "%.0f", t);
        cv_text(c, p->x0 - 6, y, buf, 0x444444, 1);
    }
    xstep = p->epochs <= 10 ? 1 : (int)nice_step(p->epochs - 1, 6);
    if (xstep < 1) xstep = 1;
    for (e = 1; e <= p->epochs; e += xstep) {
        snprintf(buf, sizeof buf, "%d", e);
        cv_text(c, panel_x(p, e), p->y1 + 14, buf, 0x444444, 0);
    }
    cv_text(c, (p->x0 + p->x1) / 2, p->y1 + 34, "epoch", 0x444444, 0);
    cv_text(c, (p->x0 + p->x1) / 2, p->y0 - 14, title, 0x000000, 0);
    for (i = 0; i < count; ++i) {
        unsigned rgb = plot_colors[i % (int)(sizeof plot_colors / sizeof plot_colors[0])];
        for (k = col_train < 0; k < 2; ++k) {
            int col = k ? col_test : col_train;
            for (e = 0; e < s[i].cv.n; ++e) {
                double v = (double)s[i].cv.v[e * CURVE_COLS + col];
                if (v < 0) continue;
                if (e > 0 && s[i].cv.v[(e - 1) * CURVE_COLS + col] >= 0)
                    cv_line(c, panel_x(p, e), panel_y(p, (double)s[i].cv.v[(e - 1) * CURVE_COLS + col]), panel_x(p, e + 1),
                            panel_y(p, v), rgb, 2, !k);
                cv_dot(c, panel_x(p, e + 1), panel_y(p, v), 2.5f, rgb);
            }
        }
    }
}

static void plot_write(const char *path, const char *title, const plot_series *s, int count)
{
    canvas c;
    panel loss, acc;
    int i, epochs = 1, png;
    float ly;
    const char *dot = strrchr(path, '.');
    png = dot && strcmp(dot, ".png") == 0;
    if (!png && !(dot && strcmp(dot, ".svg") == 0)) fail(2, "%s: a plot's name ends in .png or .svg", path);
    memset(&c, 0, sizeof c);
    c.w = 960;
    c.h = 400;
    for (i = 0; i < count; ++i) { /* room for the longest label on the right */
        int need = 832 + (png ? (int)(stb_easy_font_width((char *)s[i].label) * TEXT_SCALE) : 8 * (int)strlen(s[i].label)) + 16;
        if (need > c.w) c.w = need;
        if (s[i].cv.n > epochs) epochs = s[i].cv.n;
    }
    if (png) {
        if (!(c.px = (unsigned char *)malloc((size_t)c.w * (size_t)c.h * 3))) fail(1, "out of memory");
        memset(c.px, 255, (size_t)c.w * (size_t)c.h * 3);
    } else {
        if (!(c.svg = fopen(path, "w"))) fail(1, "cannot write %s", path);
        fprintf(c.svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                       "font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
                c.w, c.h, c.w, c.h);
    }
    cv_text(&c, c.w / 2.0f, 18, title, 0x000000, 0);
    loss.x0 = 70; loss.x1 = 380; loss.y0 = 60; loss.y1 = c.h - 60; loss.epochs = epochs;
    acc = loss;
    acc.x0 = 460; acc.x1 = 770;
    /* the training loss of a distilled run is the KD objective, not comparable
       with cross-entropy: the loss panel shows the test loss only */
    draw_panel(&c, &loss, "test loss", s, count, -1, 2);
    draw_panel(&c, &acc, "accuracy", s, count, 1, 3);
    /* legend */
    ly = 70;
    for (i = 0; i < count; ++i, ly += 24) {
        unsigned rgb = plot_colors[i % (int)(sizeof plot_colors / sizeof plot_colors[0])];
        cv_line(&c, 795, ly, 825, ly, rgb, 3, 0);
        cv_text(&c, 832, ly, s[i].label, 0x000000, -1);
    }
    ly += 12;
    cv_line(&c, 795, ly, 825, ly, 0x666666, 2, 0);
    cv_text(&c, 832, ly, "test", 0x444444, -1);
    cv_line(&c, 795, ly + 22, 825, ly + 22, 0x666666, 2, 1);
    cv_text(&c, 832, ly + 22, "training", 0x444444, -1);
    cv_text(&c, 832, ly + 40, "(accuracy)", 0x444444, -1);
    if (png) {
        if (!stbi_write_png(path, c.w, c.h, 3, c.px, c.w * 3)) fail(1, "cannot write %s", path);
        free(c.px);
    } else {
        fputs("</svg>\n", c.svg);
        if (fclose(c.svg) != 0) fail(1, "error writing %s", path);
    }
}

/* Reads a log written by --log: "# label: X" and rows of numbers. */
static void read_log(const char *path, plot_series *s)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int lineno = 0;
    memset(s, 0, sizeof *s);
    if (!f) fail(1, "cannot open %s", path);
    base_label(path, s->label, sizeof s->label);
    while (fgets(line, sizeof line, f)) {
        float v[CURVE_COLS], *row;
        int epoch, k, used;
        char *p = line;
        ++lineno;
        if (strncmp(line, "# label: ", 9) == 0) {
            snprintf(s->label, sizeof s->label, "%.*s", (int)strcspn(line + 9, "\r\n"), line + 9);
            continue;
        }
        if (line[0] == '#' || strncmp(line, "epoch,", 6) == 0 || line[strspn(line, " \r\n")] == 0) continue;
        if (sscanf(p, "%d%n", &epoch, &used) != 1) fail(1, "%s:%d: expected epoch,numbers...", path, lineno);
        p += used;
        for (k = 0; k < CURVE_COLS; ++k) {
            if (sscanf(p, " ,%f%n", &v[k], &used) != 1 || v[k] != v[k])
                fail(1, "%s:%d: expected %d numbers after the epoch", path, lineno, CURVE_COLS);
            p += used;
        }
        if (epoch != s->cv.n + 1) fail(1, "%s:%d: epoch %d, expected %d", path, lineno, epoch, s->cv.n + 1);
        row = curve_push(&s->cv);
        memcpy(row, v, sizeof v);
    }
    fclose(f);
    if (s->cv.n == 0) fail(1, "%s: no epochs in the log", path);
}

static void cmd_plot(const args *a)
{
    plot_series *s;
    int i;
    need(a->out, "--out");
    if (a->npos == 0) fail(2, "no LOG.csv given (write them with train --log)");
    if (!(s = (plot_series *)calloc((size_t)a->npos, sizeof *s))) fail(1, "out of memory");
    for (i = 0; i < a->npos; ++i) read_log(a->pos[i], &s[i]);
    plot_write(a->out, a->title ? a->title : "training curves", s, a->npos);
    for (i = 0; i < a->npos; ++i) free(s[i].cv.v);
    free(s);
}
