// Waiting for Ctrl-C (SIGINT) or SIGTERM so a server can shut down cleanly. Until
// WaitForStopSignal is called those signals keep their default action (a long load can
// be interrupted at once).
#pragma once

namespace tandem::cli {

// Catches SIGINT and SIGTERM from now on and blocks until one arrives; returns its number.
int WaitForStopSignal();

}  // namespace tandem::cli
