/* `kpf new-plugin NAME [--discrete|--continuous] [-o DIR]`: a folder with a
 * working, documented plugin skeleton (a leaky linear RNN), a Makefile
 * (pkg-config kpf), a CMakeLists.txt (find_package(kpf)), an example config
 * and a README, from the templates in cli/templates/ embedded in kpf.
 *
 * Template syntax: @NAME@, @NAME_UPPER@, @FLAVOUR@ and @KPF_MAJOR_MINOR@ are
 * replaced; a line that starts with @D@ is kept (without the marker) only for
 * --discrete, one that starts with @C@ only for --continuous. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "kpf/version.h"
#include "templates/templates.h"

typedef struct scaffold {
    const char *name;
    char upper[80];
    int continuous;
    const char *dir;
} scaffold;

/* Where each template goes in the new folder. */
static void out_name(const scaffold *s, const char *tpl, char *buf, size_t size)
{
    if (!strcmp(tpl, "plugin.c.in"))
        snprintf(buf, size, "%s.c", s->name);
    else
        snprintf(buf, size, "%.*s", (int)(strlen(tpl) - 3), tpl); /* drop ".in" */
}

/* One template line with the placeholders replaced. */
static void put_line(FILE *fp, const scaffold *s, const char *line, size_t len)
{
    static const char *keys[] = {"@NAME@", "@NAME_UPPER@", "@FLAVOUR@", "@KPF_MAJOR_MINOR@"};
    char mm[32];
    snprintf(mm, sizeof mm, "%d.%d", KPF_VERSION_MAJOR, KPF_VERSION_MINOR);
    const char *vals[] = {s->name, s->upper, s->continuous ? "continuous" : "discrete", mm};
    for (size_t i = 0; i < len;) {
        size_t k = 0;
        while (k < 4 && strncmp(line + i, keys[k], strlen(keys[k])))
            k++;
        if (k < 4 && i + strlen(keys[k]) <= len) {
            fputs(vals[k], fp);
            i += strlen(keys[k]);
        } else {
            fputc(line[i++], fp);
        }
    }
}

static int render(const scaffold *s, const kpf_template *t, FILE *fp)
{
    const char *text = (const char *)t->text, *end = text + t->len;
    while (text < end) {
        const char *nl = memchr(text, '\n', (size_t)(end - text));
        size_t len = nl ? (size_t)(nl - text) + 1 : (size_t)(end - text);
        int d = len >= 3 && !strncmp(text, "@D@", 3), c = len >= 3 && !strncmp(text, "@C@", 3);
        if (!(d && s->continuous) && !(c && !s->continuous))
            put_line(fp, s, text + ((d || c) ? 3 : 0), len - ((d || c) ? 3 : 0));
        text += len;
    }
    return ferror(fp) ? -1 : 0;
}

/* A plugin name is what YAML's `plugin:` names and a C identifier prefix. */
static int valid_name(const char *n)
{
    if (!n[0] || strlen(n) > 64 || !islower((unsigned char)n[0]))
        return 0;
    for (const char *p = n; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
            return 0;
    return 1;
}

/* The folder must be new, or exist and be empty: nobody's work is touched. */
static int make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0)
        return 0;
    if (errno != EEXIST) {
        fprintf(stderr, "kpf new-plugin: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "kpf new-plugin: %s exists and is not a folder I can read\n", dir);
        return -1;
    }
    size_t entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    if (entries) {
        fprintf(stderr, "kpf new-plugin: %s exists and is not empty (choose another folder "
                        "with -o)\n", dir);
        return -1;
    }
    return 0;
}

static int write_all(const scaffold *s)
{
    if (make_dir(s->dir))
        return KPF_EXIT_FAIL;
    for (const kpf_template *t = kpf_new_plugin_templates; t->name; t++) {
        char file[128], path[4300];
        out_name(s, t->name, file, sizeof file);
        snprintf(path, sizeof path, "%s/%s", s->dir, file);
        FILE *fp = fopen(path, "wx"); /* never overwrite someone's work */
        if (!fp) {
            fprintf(stderr, "kpf new-plugin: cannot create %s: %s\n", path, strerror(errno));
            return KPF_EXIT_FAIL;
        }
        int bad = render(s, t, fp);
        if (fclose(fp) != 0 || bad) {
            fprintf(stderr, "kpf new-plugin: writing %s failed\n", path);
            return KPF_EXIT_FAIL;
        }
        printf("  %s\n", path);
    }
    return KPF_EXIT_OK;
}

static void usage(FILE *fp)
{
    fputs("usage: kpf new-plugin NAME [--discrete|--continuous] [-o DIR]\n"
          "  creates DIR (default ./NAME; it must be new or empty) holding a working,\n"
          "  documented model plugin NAME (a leaky linear RNN) to start from:\n"
          "    NAME.c          the plugin: every required op, CBLAS GEMMs over the row block\n"
          "    Makefile        builds NAME.so with pkg-config kpf\n"
          "    CMakeLists.txt  the same with find_package(kpf); ctest runs check-plugin\n"
          "    example.yaml    a short training run using it\n"
          "    README.md       build, check, run, eval-op\n"
          "  --discrete       z' = (1 - alpha) z + alpha (W z + B x)   (the default)\n"
          "  --continuous     dz/dt = -z + W z + B x, stepped by kpf (euler | rk4)\n"
          "  NAME: a lower-case letter, then [a-z0-9_], at most 64 characters\n",
          fp);
}

static int parse(int argc, char **argv, scaffold *s)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout), 1;
        if (!strcmp(a, "--discrete") || !strcmp(a, "--continuous"))
            s->continuous = !strcmp(a, "--continuous");
        else if (!strcmp(a, "-o") && i + 1 < argc)
            s->dir = argv[++i];
        else if (a[0] == '-')
            return fprintf(stderr, "kpf new-plugin: unknown option '%s' (see kpf new-plugin "
                                   "--help)\n", a),
                   -1;
        else if (s->name)
            return fprintf(stderr, "kpf new-plugin: one NAME, not also '%s'\n", a), -1;
        else
            s->name = a;
    }
    if (!s->name)
        return usage(stderr), -1;
    if (!valid_name(s->name))
        return fprintf(stderr, "kpf new-plugin: '%s' is not a plugin name (a lower-case "
                               "letter, then [a-z0-9_], at most 64 characters)\n",
                       s->name),
               -1;
    for (size_t i = 0; s->name[i]; i++)
        s->upper[i] = (char)toupper((unsigned char)s->name[i]);
    if (!s->dir)
        s->dir = s->name;
    return 0;
}

int kpf_cmd_new_plugin(int argc, char **argv)
{
    scaffold s = {0};
    int p = parse(argc, argv, &s);
    if (p)
        return p > 0 ? KPF_EXIT_OK : KPF_EXIT_USAGE;
    printf("kpf: new %s plugin '%s' in %s/\n", s.continuous ? "continuous" : "discrete", s.name,
           s.dir);
    int rc = write_all(&s);
    if (rc)
        return rc;
    printf("next:\n"
           "  make -C %s\n"
           "  kpf check-plugin %s/%s.so\n"
           "(with kpf installed under a prefix of your own, make needs\n"
           " PKG_CONFIG_PATH=<prefix>/lib/pkgconfig; %s/README.md says more)\n",
           s.dir, s.dir, s.name, s.dir);
    return KPF_EXIT_OK;
}
