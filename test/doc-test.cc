/*
 * The module's reStructuredText documentation (every .rst file in doc/) parses cleanly: ns-3's
 * Sphinx build renders a malformed table or a dangling citation as garbage, and nothing else
 * would notice.
 */

#include "test-util.h"

#include <gtest/gtest.h>

namespace
{
/// utils/check-rst.py run by a python3 that has docutils (Debian's first: the quick start
/// installs python3-docutils), with @p args; exit code -1 if there is no such python3.
moe_test::CommandResult
CheckRst(const std::string& args)
{
    for (const std::string py : {"/usr/bin/python3", "python3"})
    {
        if (moe_test::RunCommand(py + " -c 'import docutils' 2>/dev/null").exitCode == 0)
        {
            return moe_test::RunCommand(py + " " + moe_test::SourcePath("utils/check-rst.py") +
                                        args);
        }
    }
    return moe_test::CommandResult{};
}
} // namespace

TEST(Doc, ReStructuredTextHasNoErrorsOrWarnings)
{
    const moe_test::CommandResult r = CheckRst("");
    if (r.exitCode == -1)
    {
        GTEST_SKIP() << "no python3 with docutils (Debian: python3-docutils)";
    }
    EXPECT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("clean"), std::string::npos) << r.output;
}

TEST(Doc, TheRstCheckFindsADanglingCitation)
{
    // The check must fail on a broken document, or the test above proves nothing.
    const std::string dir = moe_test::MakeTempDir("rst");
    moe_test::WriteFile(dir + "/broken.rst", "Title\n=====\n\nSee [Nowhere]_.\n");
    const moe_test::CommandResult r = CheckRst(" " + dir + "/broken.rst");
    if (r.exitCode == -1)
    {
        GTEST_SKIP() << "no python3 with docutils (Debian: python3-docutils)";
    }
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_NE(r.output.find("nowhere"), std::string::npos) << r.output;
}
