// The interactive side of `ember chat`: reads lines from stdin, runs slash commands, streams
// answers to stdout, and turns Ctrl-C into "stop this answer" (a second Ctrl-C at the
// prompt, /quit or end of input exits). docs/usage.md lists the commands.
#pragma once
#include <string>

#include "runtime/chat_session.h"

namespace ember {

// Runs until the user quits; returns the process exit code (0). `banner` is printed first.
int run_chat_console(ChatSession& session, const std::string& banner);

}  // namespace ember
