// --cpus parsing and pinning (runtime/threads.h).
#include <doctest/doctest.h>
#include <omp.h>
#include <sched.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/threads.h"

using namespace ember;

TEST_CASE("parse_cpu_list reads lists and ranges, drops repeats, and names bad parts") {
    CHECK(parse_cpu_list("0") == std::vector<int>{0});
    CHECK(parse_cpu_list("0,1") == std::vector<int>{0, 1});
    CHECK(parse_cpu_list("0-3,6") == std::vector<int>{0, 1, 2, 3, 6});
    CHECK(parse_cpu_list("2,0-2") == std::vector<int>{2, 0, 1});
    for (const char* bad : {"", "x", "1-0", "0,,1", "-1", "0-", "1.5", "99999999"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(parse_cpu_list(bad), std::invalid_argument);
    }
    try {
        parse_cpu_list("0,a");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("'a'") != std::string::npos);
    }
}

TEST_CASE("configure_threads pins each OpenMP thread to its listed CPU") {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    REQUIRE(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    int first = -1;
    for (int c = 0; c < CPU_SETSIZE && first < 0; ++c)
        if (CPU_ISSET(c, &allowed)) first = c;
    REQUIRE(first >= 0);
    configure_threads(2, std::to_string(first));  // two threads on one CPU
    CHECK(omp_get_max_threads() == 2);
    std::vector<int> seen(2, -1);
#pragma omp parallel num_threads(2)
    seen[size_t(omp_get_thread_num())] = sched_getcpu();
    CHECK(seen[0] == first);
    CHECK(seen[1] == first);
    // A CPU outside the allowed set is refused with a clear error.
    CHECK_THROWS_AS(configure_threads(0, std::to_string(CPU_SETSIZE - 1)), std::invalid_argument);
    // Restore the default for other tests in this binary: every allowed CPU, one thread each.
    std::string all;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &allowed)) all += (all.empty() ? "" : ",") + std::to_string(c);
    configure_threads(0, all);
    set_thread_count(0);
}
