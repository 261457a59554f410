#include "runtime/chat_console.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string_view>

namespace ember {

namespace {

// Set by SIGINT; read by the answer's on_text callback (which then stops generation) and by
// the line reader (whose read() the signal interrupts, as the handler has no SA_RESTART).
std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
    g_interrupted.store(true);
}

// Installs the handler for the console's lifetime and restores the previous one after.
class SigintGuard {
  public:
    SigintGuard() {
        struct sigaction sa {};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: a blocked read() returns EINTR
        sigaction(SIGINT, &sa, &previous_);
    }
    ~SigintGuard() { sigaction(SIGINT, &previous_, nullptr); }

  private:
    struct sigaction previous_ {};
};

void out(std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
}

enum class LineResult { line, eof, interrupted };

// One line from stdin (without the newline), read with read(2) so that Ctrl-C interrupts it.
// Bytes after the newline stay in `pending` for the next call.
LineResult read_line(std::string& pending, std::string& line) {
    for (;;) {
        const size_t nl = pending.find('\n');
        if (nl != std::string::npos) {
            line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            return LineResult::line;
        }
        char buf[4096];
        const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n > 0) {
            pending.append(buf, size_t(n));
            continue;
        }
        if (n < 0 && errno == EINTR) {
            if (g_interrupted.exchange(false)) {
                pending.clear();  // the terminal discards the typed line too
                return LineResult::interrupted;
            }
            continue;
        }
        if (!pending.empty()) {  // last line without a newline
            line = std::move(pending);
            pending.clear();
            return LineResult::line;
        }
        return LineResult::eof;
    }
}

std::string trim(std::string_view s) {
    const size_t b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return "";
    const size_t e = s.find_last_not_of(" \t");
    return std::string(s.substr(b, e - b + 1));
}

void print_stats(const ChatSession& session, bool any_turn) {
    if (!any_turn) {
        out("no answer yet\n");
        return;
    }
    const ChatTurnStats& s = session.last_stats();
    const int64_t prefilled = s.n_prompt - s.n_reused;
    const double pp = prefilled * 1000.0 / std::max(s.prefill_ms, 1e-9);
    const double tg = s.n_generated > 1 ? (s.n_generated - 1) * 1000.0 / std::max(s.decode_ms, 1e-9) : 0.0;
    char line[512];
    std::snprintf(line, sizeof line,
                  "prompt %lld tokens (%lld reused from the cache, %lld prefilled in %.1f ms, %.1f t/s), "
                  "generated %lld tokens at %.1f t/s, TTFT %.1f ms, context %lld/%lld\n",
                  (long long)s.n_prompt, (long long)s.n_reused, (long long)prefilled, s.prefill_ms, pp,
                  (long long)s.n_generated, tg, s.ttft_ms, (long long)session.cached_ids().size(),
                  (long long)session.options().context);
    out(line);
}

const char* const kHelp =
    "commands:\n"
    "  /reset         forget the conversation (the system prompt stays)\n"
    "  /system TEXT   set the system prompt (/system alone shows it)\n"
    "  /stats         tokens, speed and time to first token of the last answer\n"
    "  /quit          exit (also Ctrl-D, or Ctrl-C twice at the prompt)\n"
    "  /help          this list\n"
    "Ctrl-C while an answer streams stops it.\n";

}  // namespace

int run_chat_console(ChatSession& session, const std::string& banner) {
    SigintGuard guard;
    g_interrupted.store(false);
    out(banner);
    std::string pending, line;
    bool any_turn = false;
    bool interrupted_at_prompt = false;  // the previous prompt ended in Ctrl-C
    for (;;) {
        out("> ");
        const LineResult r = read_line(pending, line);
        if (r == LineResult::eof) {
            out("\n");
            return 0;
        }
        if (r == LineResult::interrupted) {
            if (interrupted_at_prompt) {
                out("\n");
                return 0;
            }
            interrupted_at_prompt = true;
            out("\n(Ctrl-C again to exit, or /quit)\n");
            continue;
        }
        interrupted_at_prompt = false;
        const std::string text = trim(line);
        if (text.empty()) continue;

        if (text[0] == '/') {
            const size_t sp = text.find(' ');
            const std::string cmd = text.substr(0, sp);
            const std::string arg =
                sp == std::string::npos ? "" : trim(std::string_view(text).substr(sp + 1));
            if (cmd == "/quit" || cmd == "/exit") return 0;
            if (cmd == "/reset") {
                session.reset();
                out("conversation cleared\n");
            } else if (cmd == "/system") {
                if (arg.empty()) {
                    out(session.system().empty() ? std::string("no system prompt\n")
                                                 : "system prompt: " + session.system() + "\n");
                } else {
                    session.set_system(arg);
                    out("system prompt set\n");
                }
            } else if (cmd == "/stats") {
                print_stats(session, any_turn);
            } else if (cmd == "/help") {
                out(kHelp);
            } else {
                out("unknown command " + cmd + " (/help lists the commands)\n");
            }
            continue;
        }

        g_interrupted.store(false);
        try {
            const ChatTurnStats st = session.ask(text, [](std::string_view piece) {
                out(piece);
                return !g_interrupted.load();
            });
            any_turn = true;
            if (st.interrupted) out(" [stopped]");
            out("\n");
            if (st.context_full)
                out("[the context is full (" + std::to_string(session.options().context) +
                    " tokens); /reset to start a new conversation, or restart with a larger --ctx]\n");
        } catch (const ContextOverflow& e) {
            out(std::string("ember: ") + e.what() +
                "; /reset to start a new conversation, or restart with a larger "
                "--ctx\n");
        } catch (const std::exception& e) {
            // A question the tokenizer rejects (invalid UTF-8) or a template's raise_exception:
            // this turn fails, the conversation goes on.
            out(std::string("ember: error: ") + e.what() + "\n");
        }
        g_interrupted.store(false);
    }
}

}  // namespace ember
