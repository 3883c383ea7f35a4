/* tests/test_image.c - image input: resampling, pixel conversion, loading
   through stb_image. */

static int test_image_resize_identity_and_box(void)
{
    float src[16], dst[16], work[16];
    int i;
    for (i = 0; i < 16; ++i) src[i] = (float)(i * i % 7);
    dst_image_resize(src, 4, 4, dst, 4, 4, work);
    T_CHECK(memcmp(src, dst, sizeof src) == 0);
    /* halving: each output is the mean of a 2x2 block */
    dst_image_resize(src, 4, 4, dst, 2, 2, work);
    for (i = 0; i < 4; ++i) {
        int r = i / 2, c = i % 2;
        float want = (src[(2 * r) * 4 + 2 * c] + src[(2 * r) * 4 + 2 * c + 1] + src[(2 * r + 1) * 4 + 2 * c] +
                      src[(2 * r + 1) * 4 + 2 * c + 1]) / 4;
        T_CHECK_MSG(fabsf(dst[i] - want) < 1e-6f, "block %d: %g vs %g", i, (double)dst[i], (double)want);
    }
    return 0;
}

static int test_image_resize_fractional(void)
{
    /* 3 -> 2: each output covers 1.5 source pixels, the middle one half each */
    float src[3] = { 3, 6, 9 }, dst[4], work[4], up[4];
    float want_up[4] = { 0, 0.25f, 0.75f, 1 }, two[2] = { 0, 1 };
    dst_image_resize(src, 1, 3, dst, 1, 2, work);
    T_CHECK(fabsf(dst[0] - (3 + 0.5f * 6) / 1.5f) < 1e-5f);
    T_CHECK(fabsf(dst[1] - (0.5f * 6 + 9) / 1.5f) < 1e-5f);
    /* the same along columns */
    dst_image_resize(src, 3, 1, dst, 2, 1, work);
    T_CHECK(fabsf(dst[0] - 4) < 1e-5f && fabsf(dst[1] - 8) < 1e-5f);
    /* 2 -> 4: linear between the source centres, clamped at the edges */
    dst_image_resize(two, 1, 2, up, 1, 4, work);
    T_CHECK(t_close(up, want_up, 4, 0, 1e-6f, "upscale"));
    return 0;
}

static int test_image_to_input_conversions(void)
{
    /* 2x1 RGBA: red opaque, anything fully transparent (= white) */
    unsigned char rgba[8] = { 255, 0, 0, 255, 10, 20, 30, 0 };
    unsigned char gray[2] = { 0, 255 };
    float out[8];
    dst_image_prep p = dst_image_prep_default(1, 1, 2);
    dst_error e;
    T_CHECK(dst_image_to_input(rgba, 2, 1, 4, &p, out, &e) == DST_OK);
    T_CHECK(fabsf(out[0] - 0.299f) < 1e-5f);
    T_CHECK(fabsf(out[1] - 1.0f) < 1e-5f);
    p = dst_image_prep_default(3, 1, 2);
    p.mean[1] = 0.5f; p.std[1] = 0.25f;
    T_CHECK(dst_image_to_input(rgba, 2, 1, 4, &p, out, &e) == DST_OK);
    T_CHECK(out[0] == 1.0f && out[1] == 1.0f);                 /* R plane */
    T_CHECK(fabsf(out[2] - (0 - 0.5f) / 0.25f) < 1e-5f);        /* G plane, normalised */
    T_CHECK(fabsf(out[3] - (1 - 0.5f) / 0.25f) < 1e-5f);
    p = dst_image_prep_default(1, 2, 4); /* gray, inverted, enlarged */
    p.invert = 1;
    T_CHECK(dst_image_to_input(gray, 2, 1, 1, &p, out, &e) == DST_OK);
    /* (white is 1 - 255 * (1/255): 0 in float arithmetic, -6e-8 in clang's x87 code) */
    T_CHECK(out[0] == 1.0f && fabsf(out[1] - 0.75f) < 1e-6f && fabsf(out[3]) < 1e-6f && out[4] == 1.0f);
    /* bad arguments get a message, not a crash */
    T_CHECK(dst_image_to_input(gray, 2, 1, 5, &p, out, &e) == DST_ERR_ARG && strstr(e.message, "components"));
    p.channels = 2;
    T_CHECK(dst_image_to_input(gray, 2, 1, 1, &p, out, &e) == DST_ERR_ARG && strstr(e.message, "channels"));
    p = dst_image_prep_default(1, 1, 2);
    p.std[0] = 0;
    T_CHECK(dst_image_to_input(gray, 2, 1, 1, &p, out, &e) == DST_ERR_ARG && strstr(e.message, "std"));
    p = dst_image_prep_default(1, 0, 2);
    T_CHECK(dst_image_to_input(gray, 2, 1, 1, &p, out, &e) == DST_ERR_ARG);
    T_CHECK(dst_image_to_input(gray, 0, 1, 1, &p, out, &e) == DST_ERR_ARG);
    T_CHECK(dst_image_to_input(gray, 0x7fffffff, 0x7fffffff, 4, &p, out, &e) == DST_ERR_ARG);
    return 0;
}

#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(DST_NO_STDIO)
/* A 2x2 24-bit BMP, written by hand so the test needs no image writer. */
static int t_write_bmp(const char *path)
{
    static const unsigned char hdr[54] = {
        'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, /* file header: size 70, data at 54 */
        40, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 24, 0, 0, 0, 0, 0, 16, 0, 0, 0,
        0x13, 0x0B, 0, 0, 0x13, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    /* bottom row first, BGR, rows padded to 4 bytes: bottom = black, white; top = gray 51, gray 102 */
    static const unsigned char px[16] = { 0, 0, 0, 255, 255, 255, 0, 0, 51, 51, 51, 102, 102, 102, 0, 0 };
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(hdr, 1, sizeof hdr, f);
    fwrite(px, 1, sizeof px, f);
    fclose(f);
    return 1;
}

static int test_image_load_files(void)
{
    const char *bmp = "build/test_image.bmp", *junk = "build/test_image.junk";
    float out[4];
    dst_image_prep p = dst_image_prep_default(1, 2, 2);
    dst_error e;
    FILE *f;
    T_CHECK(t_write_bmp(bmp));
    T_CHECK(dst_image_load(bmp, &p, out, &e) == DST_OK);
    T_CHECK(fabsf(out[0] - 0.2f) < 1e-6f && fabsf(out[1] - 0.4f) < 1e-6f);
    T_CHECK(out[2] == 0.0f && out[3] == 1.0f);
    T_CHECK(dst_image_load("build/no-such-image.png", &p, out, &e) == DST_ERR_IO && strstr(e.message, "cannot open"));
    T_CHECK((f = fopen(junk, "wb")) != NULL);
    fputs("not an image at all", f);
    fclose(f);
    T_CHECK(dst_image_load(junk, &p, out, &e) == DST_ERR_FORMAT && strstr(e.message, "not an image"));
    remove(bmp);
    remove(junk);
    return 0;
}
#endif

static const t_case image_tests[] = {
    { "image_resize_identity_and_box", test_image_resize_identity_and_box },
    { "image_resize_fractional", test_image_resize_fractional },
    { "image_to_input_conversions", test_image_to_input_conversions },
#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(DST_NO_STDIO)
    { "image_load_files", test_image_load_files },
#endif
};
