/* pcref-sync: what it prints — each sync outcome, the plan of a dry run,
 * the summary of a pass and the progress of a backfill. */
#ifndef PCREF_SYNC_REPORT_H
#define PCREF_SYNC_REPORT_H

#include <pcref/pcref.h>

struct app;

/* pcref_sync_options::on_event (payload: the app). */
void report_event(const pcref_sync_event *event, void *payload);

/* pcref_sync_options::on_progress (payload: the app): draws the progress
 * and returns non-zero (stop) once SIGINT/SIGTERM asked to stop. */
int report_progress(uint64_t done, uint64_t total, void *payload);

/* End the progress display (a newline after a bar). */
void report_progress_end(void);

/* Erase a progress bar before printing something else on the terminal. */
void report_clear_progress_line(void);

/* One line summing `r` up: "<what>: examined N, created N, ...". */
void report_summary(const char *what, const pcref_sync_report *r, int plan);

/* Prefix event lines with the time (for `run`). */
void report_set_timestamps(int on);

#endif
