// config.h - typed run configuration loaded from YAML (libyaml).
//
// Every key is one row of XT_CONFIG_KEYS (config_keys.h); this header turns
// the rows into the fields of xt_config, named <section>_<key>
// (data.symbols -> cfg->data_symbols). Defaults come from the same rows, so
// a config file only states what differs from them.
//
// Errors name file:line:column and the key path, e.g.
//   configs/demo.yaml:12:3: data.symbols[2]: unknown symbol "BTCUSD_"
// Unknown keys are errors with a did-you-mean suggestion.
#ifndef XT_CONFIG_H
#define XT_CONFIG_H

#include "config_keys.h"
#include "err.h"

#include <stdint.h>
#include <stdio.h>

#define XT_CFG_LIST_MAX 16
#define XT_CFG_FOLDS_MAX 64
#define XT_CFG_STR_MAX 256
#define XT_CFG_ITEM_MAX 32

typedef char xt_cfg_str[XT_CFG_STR_MAX];
typedef struct {
    int n;
    char v[XT_CFG_LIST_MAX][XT_CFG_ITEM_MAX];
    int line[XT_CFG_LIST_MAX], col[XT_CFG_LIST_MAX]; // where each item was written (0 = default)
} xt_cfg_strlist;
typedef struct {
    int n;
    int64_t v[XT_CFG_LIST_MAX];
} xt_cfg_intlist;
typedef struct {
    int n;
    double v[XT_CFG_LIST_MAX];
} xt_cfg_dbllist;
typedef struct {
    int n;
    int64_t step[XT_CFG_LIST_MAX]; // ascending, step[0] == 0
    double value[XT_CFG_LIST_MAX];
} xt_cfg_sched;
typedef struct {
    int64_t train_start, train_end, test_start, test_end; // UTC seconds, ends exclusive
} xt_cfg_fold;
typedef struct {
    int n;
    xt_cfg_fold v[XT_CFG_FOLDS_MAX];
} xt_cfg_folds;

#define XT_CFG_CTYPE_INT int64_t
#define XT_CFG_CTYPE_DBL double
#define XT_CFG_CTYPE_BOOL int
#define XT_CFG_CTYPE_STR xt_cfg_str
#define XT_CFG_CTYPE_ENUM int
#define XT_CFG_CTYPE_TF int64_t
#define XT_CFG_CTYPE_DATE int64_t
#define XT_CFG_CTYPE_STRLIST xt_cfg_strlist
#define XT_CFG_CTYPE_TFLIST xt_cfg_intlist
#define XT_CFG_CTYPE_DBLLIST xt_cfg_dbllist
#define XT_CFG_CTYPE_INTLIST xt_cfg_intlist
#define XT_CFG_CTYPE_SCHED xt_cfg_sched
#define XT_CFG_CTYPE_FOLDS xt_cfg_folds

// Key ids: XT_CFGK_data_symbols, ...
#define XT_CFG_KEY_ID(sec, key, type, def, lo, hi, choices, doc) XT_CFGK_##sec##_##key,
enum { XT_CONFIG_KEYS(XT_CFG_KEY_ID) XT_CFG_NKEYS };
#undef XT_CFG_KEY_ID

typedef struct {
#define XT_CFG_FIELD(sec, key, type, def, lo, hi, choices, doc) XT_CFG_CTYPE_##type sec##_##key;
    XT_CONFIG_KEYS(XT_CFG_FIELD)
#undef XT_CFG_FIELD
    char path[XT_CFG_STR_MAX]; // file it was loaded from ("" = defaults only)
    int line[XT_CFG_NKEYS];    // where each key was set (0 = default)
    int col[XT_CFG_NKEYS];
} xt_config;

// Enum values (indices into the choices strings of config_keys.h; a unit
// test checks each against its string so they cannot drift).
enum { XT_DATA_SOURCE_SYNTHETIC, XT_DATA_SOURCE_CSV };
enum { XT_ENV_KIND_ASSET, XT_ENV_KIND_PORTFOLIO };
enum { XT_NORM_ZSCORE, XT_NORM_ROBUST, XT_NORM_NONE };
enum { XT_FOLDS_EXPLICIT, XT_FOLDS_EXPANDING, XT_FOLDS_ROLLING };
enum { XT_LR_CONSTANT, XT_LR_LINEAR };
enum { XT_SYMENC_ONEHOT, XT_SYMENC_ID };

// Fills every key with its default.
void xt_config_defaults(xt_config *cfg);
// Defaults, then the YAML file on top, then cross-key validation.
int xt_config_load(xt_config *cfg, const char *path, xt_err *err);
// Same from text in memory (name is used in messages).
int xt_config_load_text(xt_config *cfg, const char *text, size_t len, const char *name, xt_err *err);
// Sets one key from text as it would be written in YAML ("ppo.lr", "1e-4";
// "data.symbols", "BTCUSD,ETHUSD"). Used by --set overrides. Does not re-validate.
int xt_config_set(xt_config *cfg, const char *path, const char *value, xt_err *err);
// One "section.key=value" argument (an --set of the CLI or a daemon).
// XT_EINVAL with "--set ARG: expected section.key=value" when there is no
// key (cfg untouched), else xt_config_set's error.
int xt_config_set_arg(xt_config *cfg, const char *arg, xt_err *err);
// Cross-key checks (dates ordered, timeframes multiples of the base, ...).
int xt_config_validate(const xt_config *cfg, xt_err *err);

// "configs/demo.yaml:12:3: data.symbols" for key id k (or "(default) data.symbols").
const char *xt_config_where(const xt_config *cfg, int k, char *buf, size_t cap);
// Same for item i of a string-list key.
const char *xt_config_where_item(const xt_config *cfg, int k, int i, char *buf, size_t cap);

// Effective config as YAML (every key, defaults filled in).
void xt_config_dump(const xt_config *cfg, FILE *out);
// Markdown reference table of every key (README "Config reference").
void xt_config_reference(FILE *out);

// Name of an enum key's current value ("portfolio").
const char *xt_config_enum_name(int k, int value, char *buf, size_t cap);
// Index of a choice in an enum key's choices, -1 if absent.
int xt_config_enum_index(int k, const char *name);
int xt_config_key_count(void);
const char *xt_config_key_path(int k, char *buf, size_t cap);

#endif
