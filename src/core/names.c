/* names.c - the text names of the library's enumerations, as they appear in config files,
 * checkpoints and JSON. One table per enumeration, indexed by value (the attention kinds' from
 * their list, AC_ATTENTION_KINDS). */
#include "attncast/csv.h"
#include "attncast/forecaster.h"
#include "attncast/optim.h"

#define NAME_OF(table, value)                                                                      \
    ((unsigned)(value) < sizeof(table) / sizeof(table[0]) ? table[value] : "unknown")

const char *ac_attention_kind_name(ac_attention_kind kind) {
#define KIND_NAME(id, name) name,
    static const char *const names[] = {AC_ATTENTION_KINDS(KIND_NAME)};
#undef KIND_NAME
    return NAME_OF(names, kind);
}

const char *ac_channel_mode_name(ac_channel_mode mode) {
    static const char *const names[] = {"independent", "mixed"};
    return NAME_OF(names, mode);
}

const char *ac_norm_anchor_name(ac_norm_anchor anchor) {
    static const char *const names[] = {"mean", "last"};
    return NAME_OF(names, anchor);
}

const char *ac_loss_kind_name(ac_loss_kind kind) {
    static const char *const names[] = {"mse", "mae", "huber", "pinball"};
    return NAME_OF(names, kind);
}

const char *ac_missing_policy_name(ac_missing_policy policy) {
    static const char *const names[] = {"error", "ffill", "interpolate", "drop"};
    return NAME_OF(names, policy);
}

const char *ac_gaps_policy_name(ac_gaps_policy policy) {
    static const char *const names[] = {"error", "warn", "fill"};
    return NAME_OF(names, policy);
}

const char *ac_optimizer_kind_name(ac_optimizer_kind kind) {
    static const char *const names[] = {"adam", "adamw", "sgd"};
    return NAME_OF(names, kind);
}

const char *ac_schedule_kind_name(ac_schedule_kind kind) {
    static const char *const names[] = {"constant", "cosine", "step"};
    return NAME_OF(names, kind);
}
