/* fields.h - the comma-separated lists of config values and column names: each field trimmed of
 * surrounding spaces, empty ones included, so that the caller can name them in its errors. */
#ifndef ATTNCAST_CORE_FIELDS_H
#define ATTNCAST_CORE_FIELDS_H

#include <stdbool.h>

/* Calls visit(field, user) for each comma-separated field of buf (changed in place), trimmed of
 * white space, empty ones too; nothing for a blank buf. Stops and returns false when visit
 * does. */
bool ac_each_field(char *buf, bool (*visit)(const char *field, void *user), void *user);

#endif
