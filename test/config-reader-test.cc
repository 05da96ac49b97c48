/*
 * Scenario JSON validation: unit parsers, strict file loading, --set overrides, ConfigReader's
 * typed getters, unknown keys and the effective config.
 */
#include "test-util.h"

#include "ns3/fabric-config-error.h"
#include "ns3/moe-config-reader.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

using namespace ns3::moe;

namespace
{

/**
 * Passes if @p fn throws ConfigError whose GetPath() is @p path and whose what() contains every
 * fragment (or equals @p exact when given).
 */
::testing::AssertionResult
ThrowsConfigError(const std::function<void()>& fn,
                  const std::string& path,
                  const std::vector<std::string>& fragments,
                  const std::string& exact = "")
{
    try
    {
        fn();
    }
    catch (const ConfigError& e)
    {
        const std::string what = e.what();
        if (e.GetPath() != path)
        {
            return ::testing::AssertionFailure() << "path is \"" << e.GetPath() << "\", expected \""
                                                 << path << "\"; what(): " << what;
        }
        if (!exact.empty() && what != exact)
        {
            return ::testing::AssertionFailure()
                   << "what() is\n  " << what << "\nexpected\n  " << exact;
        }
        for (const std::string& f : fragments)
        {
            if (what.find(f) == std::string::npos)
            {
                return ::testing::AssertionFailure() << "what() lacks \"" << f << "\": " << what;
            }
        }
        return ::testing::AssertionSuccess() << what;
    }
    catch (const std::exception& e)
    {
        return ::testing::AssertionFailure() << "threw another exception: " << e.what();
    }
    return ::testing::AssertionFailure() << "nothing thrown";
}

/// Write @p content to a new file in a fresh temp dir; returns its path.
std::string
WriteTempFile(const std::string& content)
{
    const std::string dir = moe_test::MakeTempDir("config-reader");
    const std::string path = dir + "/scenario.json";
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f != nullptr)
    {
        std::fwrite(content.data(), 1, content.size(), f);
        std::fclose(f);
    }
    return path;
}

const std::vector<std::string> LB = {"ecmp", "spray"};

} // namespace

// --- ParseRate -------------------------------------------------------------------------------

TEST(ConfigUnits, ParseRateAcceptedForms)
{
    EXPECT_EQ(ParseRate("100Gbps", "r"), 100000000000ull);
    EXPECT_EQ(ParseRate("400Gb/s", "r"), 400000000000ull);
    EXPECT_EQ(ParseRate("100Gb/s", "r"), 100000000000ull);
    EXPECT_EQ(ParseRate("1.6Tbps", "r"), 1600000000000ull);
    EXPECT_EQ(ParseRate("1.6Tb/s", "r"), 1600000000000ull);
    EXPECT_EQ(ParseRate("25000Mbps", "r"), 25000000000ull);
    EXPECT_EQ(ParseRate("2.5Mb/s", "r"), 2500000ull);
    EXPECT_EQ(ParseRate("10bps", "r"), 10ull);
    EXPECT_EQ(ParseRate("10b/s", "r"), 10ull);
    EXPECT_EQ(ParseRate("1kbps", "r"), 1000ull);
    EXPECT_EQ(ParseRate("1Kbps", "r"), 1000ull);
    EXPECT_EQ(ParseRate("1.5kb/s", "r"), 1500ull);
    EXPECT_EQ(ParseRate("3Kb/s", "r"), 3000ull);
    EXPECT_EQ(ParseRate(" 100 Gbps ", "r"), 100000000000ull);
    EXPECT_EQ(ParseRate("0100.50000000000000000000000Gbps", "r"), 100500000000ull);
    EXPECT_EQ(ParseRate("18446744073709551615bps", "r"), 18446744073709551615ull);
    EXPECT_EQ(ParseRate("0.000000000001Tbps", "r"), 1ull);
}

TEST(ConfigUnits, ParseRateRejectionsNameThePathAndTheAcceptedUnits)
{
    const std::string units = "use a number followed by bps, kbps, Mbps, Gbps or Tbps (e.g. "
                              "\"100Gbps\")";
    EXPECT_TRUE(ThrowsConfigError([] { ParseRate("100Gbs", "topology.link.rate"); },
                                  "topology.link.rate",
                                  {},
                                  "topology.link.rate: \"100Gbs\" is not a data rate; " + units +
                                      "; ns-3 spellings such as \"400Gb/s\" work too"));
    for (const char* bad : {"",
                            "Gbps",
                            "1e9bps",
                            "+1Gbps",
                            ".5Gbps",
                            "5.Gbps",
                            "100gbps",
                            "100 G bps",
                            "100Gbps/s",
                            "100Gibps",
                            "fast",
                            "1,5Gbps"})
    {
        EXPECT_TRUE(ThrowsConfigError([bad] { ParseRate(bad, "x.rate"); },
                                      "x.rate",
                                      {"is not a data rate", units}))
            << bad;
    }
    EXPECT_TRUE(ThrowsConfigError([] { ParseRate("100", "r"); },
                                  "r",
                                  {"\"100\" is not a data rate (a unit is required)", units}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseRate("100GBps", "r"); },
                                  "r",
                                  {"B means bytes; rates are in bits per second", units}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseRate("0Gbps", "r"); },
                                  "r",
                                  {"\"0Gbps\" is zero; a data rate must be greater than 0"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseRate("-1Gbps", "r"); },
                                  "r",
                                  {"\"-1Gbps\" is negative; a data rate must be greater than 0"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseRate("1.5bps", "r"); },
                                  "r",
                                  {"\"1.5bps\" is not a whole number of bit/s"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseRate("0.0000000000001Tbps", "r"); },
                                  "r",
                                  {"not a whole number of bit/s"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseRate("18446744073709551616bps", "r"); },
                                  "r",
                                  {"is too large; the maximum is 18446744073709551615bps"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseRate("20000000Tbps", "r"); }, "r", {"too large"}));
}

// --- ParseTimePs -----------------------------------------------------------------------------

TEST(ConfigUnits, ParseTimeAcceptedForms)
{
    EXPECT_EQ(ParseTimePs("1us", "t"), 1000000);
    EXPECT_EQ(ParseTimePs("500ns", "t"), 500000);
    EXPECT_EQ(ParseTimePs("1.5us", "t"), 1500000);
    EXPECT_EQ(ParseTimePs("250ps", "t"), 250);
    EXPECT_EQ(ParseTimePs("2ms", "t"), 2000000000);
    EXPECT_EQ(ParseTimePs("1s", "t"), 1000000000000);
    EXPECT_EQ(ParseTimePs("0", "t"), 0);
    EXPECT_EQ(ParseTimePs("0.0", "t"), 0);
    EXPECT_EQ(ParseTimePs("0us", "t"), 0);
    EXPECT_EQ(ParseTimePs("0.001ns", "t"), 1);
    EXPECT_EQ(ParseTimePs("83.6ns", "t"), 83600);
    EXPECT_EQ(ParseTimePs(" 2 us ", "t"), 2000000);
    EXPECT_EQ(ParseTimePs("3\xC2\xB5s", "t"), 3000000); // micro sign
    EXPECT_EQ(ParseTimePs("3\xCE\xBCs", "t"), 3000000); // Greek mu
    EXPECT_EQ(ParseTimePs("9223372036854775807ps", "t"), std::numeric_limits<int64_t>::max());
}

TEST(ConfigUnits, ParseTimeRejections)
{
    const std::string units = "use a number followed by ps, ns, us (or µs), ms or s";
    EXPECT_TRUE(ThrowsConfigError([] { ParseTimePs("5", "link.delay"); },
                                  "link.delay",
                                  {"\"5\" is not a time (a unit is required)", units}));
    for (const char* bad : {"", "us", "1sec", "1 fs", "1e3ns", "1h", "1min", "1US", "1.us", "x"})
    {
        EXPECT_TRUE(ThrowsConfigError([bad] { ParseTimePs(bad, "link.delay"); },
                                      "link.delay",
                                      {"is not a time", units}))
            << bad;
    }
    EXPECT_TRUE(ThrowsConfigError([] { ParseTimePs("-1us", "t"); },
                                  "t",
                                  {"\"-1us\" is negative; times must not be negative"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseTimePs("0.5ps", "t"); },
                                  "t",
                                  {"\"0.5ps\" is not a whole number of picoseconds"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseTimePs("9223372036854775808ps", "t"); },
                                  "t",
                                  {"is too large; the maximum is 9223372036854775807ps"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseTimePs("10000000s", "t"); }, "t", {"too large"}));
}

// --- ParseBytes ------------------------------------------------------------------------------

TEST(ConfigUnits, ParseBytesAcceptedForms)
{
    EXPECT_EQ(ParseBytes(Json(4096), "b"), 4096u);
    EXPECT_EQ(ParseBytes(Json(0), "b"), 0u);
    EXPECT_EQ(ParseBytes(Json::parse("18446744073709551615"), "b"), 18446744073709551615ull);
    EXPECT_EQ(ParseBytes(Json("4096"), "b"), 4096u);
    EXPECT_EQ(ParseBytes(Json("512B"), "b"), 512u);
    EXPECT_EQ(ParseBytes(Json("4KiB"), "b"), 4096u);
    EXPECT_EQ(ParseBytes(Json("1MiB"), "b"), 1048576u);
    EXPECT_EQ(ParseBytes(Json("2GiB"), "b"), 2147483648ull);
    EXPECT_EQ(ParseBytes(Json("1TiB"), "b"), 1099511627776ull);
    EXPECT_EQ(ParseBytes(Json("4KB"), "b"), 4000u);
    EXPECT_EQ(ParseBytes(Json("4kB"), "b"), 4000u);
    EXPECT_EQ(ParseBytes(Json("1MB"), "b"), 1000000u);
    EXPECT_EQ(ParseBytes(Json("1GB"), "b"), 1000000000u);
    EXPECT_EQ(ParseBytes(Json("2TB"), "b"), 2000000000000ull);
    EXPECT_EQ(ParseBytes(Json("1.5KiB"), "b"), 1536u);
    EXPECT_EQ(ParseBytes(Json("12 MB"), "b"), 12000000u);
}

TEST(ConfigUnits, ParseBytesRejections)
{
    const std::string forms = "use a non-negative integer, or a number followed by B, kB, MB, GB, "
                              "TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)";
    EXPECT_TRUE(ThrowsConfigError([] { ParseBytes(Json(-1), "mmu.buffer"); },
                                  "mmu.buffer",
                                  {"-1 is negative", forms}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseBytes(Json(4.5), "b"); },
                                  "b",
                                  {"expected a byte count (a non-negative integer or a string "
                                   "such as \"4KiB\"), got number 4.5"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseBytes(Json(4096.0), "b"); },
                                  "b",
                                  {"got number 4096.0", "without a decimal point"}));
    // Integers beyond 64 bits arrive as floating point, though written without a decimal point.
    EXPECT_TRUE(ThrowsConfigError([] { ParseBytes(Json::parse("18446744073709551616"), "b"); },
                                  "b",
                                  {"(beyond 64-bit integers)"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseBytes(Json(true), "b"); }, "b", {"got boolean true"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseBytes(Json(), "b"); }, "b", {"got null"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseBytes(Json::array(), "b"); }, "b", {"got an array"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseBytes(Json("4Kb"), "b"); },
                                  "b",
                                  {"\"4Kb\" is not a byte size (b means bits", forms}));
    for (const char* bad : {"4 kilo", "", "KiB", "4kib", "4KIB", "4e3", "four"})
    {
        EXPECT_TRUE(ThrowsConfigError([bad] { ParseBytes(Json(bad), "b"); },
                                      "b",
                                      {"is not a byte size", forms}))
            << bad;
    }
    EXPECT_TRUE(ThrowsConfigError([] { ParseBytes(Json("-4KiB"), "b"); }, "b", {"is negative"}));
    EXPECT_TRUE(ThrowsConfigError([] { ParseBytes(Json("0.5B"), "b"); },
                                  "b",
                                  {"\"0.5B\" is not a whole number of bytes"}));
    EXPECT_TRUE(
        ThrowsConfigError([] { ParseBytes(Json("99999999999TiB"), "b"); }, "b", {"is too large"}));
}

// --- Format ----------------------------------------------------------------------------------

TEST(ConfigUnits, FormatPicksTheLargestExactUnit)
{
    EXPECT_EQ(FormatTimePs(1000000), "1us");
    EXPECT_EQ(FormatTimePs(1500), "1500ps");
    EXPECT_EQ(FormatTimePs(500000), "500ns");
    EXPECT_EQ(FormatTimePs(2000000000), "2ms");
    EXPECT_EQ(FormatTimePs(1500000000000), "1500ms");
    EXPECT_EQ(FormatTimePs(1000000000000), "1s");
    EXPECT_EQ(FormatTimePs(0), "0ps");
    EXPECT_EQ(FormatTimePs(-2000000000), "-2ms");
    EXPECT_EQ(FormatTimePs(std::numeric_limits<int64_t>::min()), "-9223372036854775808ps");
    EXPECT_EQ(FormatRate(100000000000ull), "100Gbps");
    EXPECT_EQ(FormatRate(1600000000000ull), "1600Gbps");
    EXPECT_EQ(FormatRate(4000000000000ull), "4Tbps");
    EXPECT_EQ(FormatRate(1500000ull), "1500kbps");
    EXPECT_EQ(FormatRate(25000000000ull), "25Gbps");
    EXPECT_EQ(FormatRate(10ull), "10bps");
    EXPECT_EQ(FormatRate(0ull), "0bps");
}

TEST(ConfigUnits, FormatRoundTripsThroughParse)
{
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 2000; ++i)
    {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Values with many trailing zeros as well as arbitrary ones.
        uint64_t v = x >> (i % 64);
        for (int z = 0; z < i % 13 && v < 1000000000000000ull; ++z)
        {
            v *= 10;
        }
        const int64_t ps = static_cast<int64_t>(v >> 1);
        ASSERT_EQ(ParseTimePs(FormatTimePs(ps), "t"), ps) << FormatTimePs(ps);
        if (v > 0)
        {
            ASSERT_EQ(ParseRate(FormatRate(v), "r"), v) << FormatRate(v);
        }
    }
}

// --- JSON files ------------------------------------------------------------------------------

TEST(ConfigFile, LoadsAValidFile)
{
    const std::string file = WriteTempFile("{\"topology\": {\"k\": 4, \"type\": \"fat-tree\"}}\n");
    const Json doc = LoadJsonFile(file);
    EXPECT_EQ(doc["topology"]["k"], 4);
    EXPECT_EQ(doc["topology"]["type"], "fat-tree");
}

TEST(ConfigFile, SkipsAByteOrderMark)
{
    const std::string file = WriteTempFile("\xEF\xBB\xBF{\"k\": 4}");
    EXPECT_EQ(LoadJsonFile(file), Json::parse("{\"k\": 4}"));
}

TEST(ConfigFile, MissingAndUnreadableFiles)
{
    const std::string dir = moe_test::MakeTempDir("config-reader");
    const std::string missing = dir + "/nope.json";
    EXPECT_TRUE(ThrowsConfigError([&] { LoadJsonFile(missing); },
                                  missing,
                                  {"cannot open file (No such file or directory)"}));
    EXPECT_TRUE(ThrowsConfigError([&] { LoadJsonFile(dir); }, dir, {"cannot read file"}));
}

TEST(ConfigFile, SyntaxErrorsGiveLineAndColumn)
{
    const std::string file = WriteTempFile("{\n  \"a\": 1,\n  \"b\": }\n");
    EXPECT_TRUE(ThrowsConfigError([&] { LoadJsonFile(file); },
                                  file,
                                  {file + ": line 3, column 8: ", "unexpected '}'"}));
    // The parser's own "[json.exception...] parse error at ..." prefix is not repeated.
    try
    {
        LoadJsonFile(file);
    }
    catch (const ConfigError& e)
    {
        EXPECT_EQ(std::string(e.what()).find("json.exception"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("parse error at"), std::string::npos) << e.what();
    }

    const std::string trailingComma = WriteTempFile("{\"a\": 1,\n\"b\": [1, 2,]}");
    EXPECT_TRUE(ThrowsConfigError([&] { LoadJsonFile(trailingComma); },
                                  trailingComma,
                                  {"line 2, column 12: ", "unexpected ']'"}));
    const std::string empty = WriteTempFile("");
    EXPECT_TRUE(ThrowsConfigError([&] { LoadJsonFile(empty); },
                                  empty,
                                  {"line 1, column 1: ", "unexpected end of input"}));
    const std::string comment = WriteTempFile("{\n  // no comments in JSON\n  \"a\": 1\n}");
    EXPECT_TRUE(ThrowsConfigError([&] { LoadJsonFile(comment); }, comment, {"line 2, column 3: "}));
    const std::string garbage = WriteTempFile("{\"a\": 1}\n xx");
    EXPECT_TRUE(ThrowsConfigError([&] { LoadJsonFile(garbage); },
                                  garbage,
                                  {"line 2, column 2: ", "expected end of input"}));
    // A number beyond a double: the parser gives no position; the line of the number it quotes.
    const std::string overflow = WriteTempFile("{\n  \"a\": 1,\n  \"b\": 1e400}");
    EXPECT_TRUE(ThrowsConfigError(
        [&] { LoadJsonFile(overflow); },
        overflow,
        {"line 3, column 8: number overflow parsing '1e400' (beyond the range of a double)"}));
}

TEST(ConfigFile, LineAndColumnAgreeWithTheParser)
{
    // Our line/column (computed from the byte offset) must match what nlohmann itself reports.
    const char* broken[] = {"{\n  \"a\": 1,\n  \"b\": }",
                            "",
                            "\n\n\n   [1, 2",
                            "{\"a\" 1}",
                            "{\"a\": tru}",
                            "{\"a\": [1,\n\n 2,,]}",
                            "{\"a\": 1}\n\n  extra"};
    for (const char* text : broken)
    {
        std::string expected;
        try
        {
            const Json parsed = Json::parse(text);
            (void)parsed;
        }
        catch (const Json::parse_error& e)
        {
            const std::string w = e.what();
            const size_t at = w.find("at line ");
            ASSERT_NE(at, std::string::npos) << w;
            expected = w.substr(at + 3, w.find(": ", at) - at - 3) + ": ";
        }
        ASSERT_FALSE(expected.empty()) << text;
        EXPECT_TRUE(ThrowsConfigError([&] { ParseJsonText(text, "src"); }, "src", {expected}))
            << text;
    }
    // Where the offending character is a newline the parser says "line 2, column 0"; we name
    // the newline's own position instead.
    EXPECT_TRUE(ThrowsConfigError([] { ParseJsonText("{\"a\": \"x\n\"}", "src"); },
                                  "src",
                                  {"src: line 1, column 9: ", "control character"}));
}

TEST(ConfigFile, DuplicateKeysAreErrorsWithTheirPath)
{
    EXPECT_TRUE(ThrowsConfigError([] { ParseJsonText("{\"k\": 4, \"k\": 8}", "s.json"); },
                                  "s.json",
                                  {},
                                  "s.json: duplicate key k; a key may appear only once in an "
                                  "object"));
    EXPECT_TRUE(ThrowsConfigError(
        [] { ParseJsonText("{\"topology\": {\"k\": 4, \"type\": \"x\", \"k\": 8}}", "s.json"); },
        "s.json",
        {"duplicate key topology.k;"}));
    EXPECT_TRUE(ThrowsConfigError(
        [] { ParseJsonText("{\"a\": [{\"x\": 1}, 7, {\"x\": 1, \"x\": 2}]}", "s.json"); },
        "s.json",
        {"duplicate key a[2].x;"}));
    EXPECT_TRUE(ThrowsConfigError(
        [] { ParseJsonText("{\"m\": [[1], [[], {\"y\": 1, \"y\": 2}]]}", "s.json"); },
        "s.json",
        {"duplicate key m[1][1].y;"}));
    // The same key in different objects is fine.
    const Json ok = ParseJsonText("{\"a\": {\"x\": 1}, \"b\": {\"x\": 2}, \"c\": [{\"x\": 3}, "
                                  "{\"x\": 4}]}",
                                  "s.json");
    EXPECT_EQ(ok["c"][1]["x"], 4);
}

// --- --set -----------------------------------------------------------------------------------

TEST(ConfigSet, ValuesAreJsonWhenTheyParseElsePlainText)
{
    Json c;
    ApplySetOverride(c, "topology.k=8");
    ApplySetOverride(c, "topology.type=leaf-spine");
    ApplySetOverride(c, "n.neg=-3");
    ApplySetOverride(c, "n.frac=2.5");
    ApplySetOverride(c, "n.yes=true");
    ApplySetOverride(c, "n.nothing=null");
    ApplySetOverride(c, "n.list=[1, 2]");
    ApplySetOverride(c, "n.obj={\"a\": 1}");
    ApplySetOverride(c, "n.quoted=\"8\"");
    ApplySetOverride(c, "n.empty=");
    ApplySetOverride(c, "n.caps=True");
    ApplySetOverride(c, "n.lead=01");
    ApplySetOverride(c, "n.huge=1e400");
    ApplySetOverride(c, "n.eq=a=b");
    ApplySetOverride(c, "n.rate=100Gbps");
    EXPECT_TRUE(c["topology"]["k"].is_number_integer());
    EXPECT_EQ(c["topology"]["k"], 8);
    EXPECT_EQ(c["topology"]["type"], "leaf-spine");
    EXPECT_EQ(c["n"]["neg"], -3);
    EXPECT_EQ(c["n"]["frac"], 2.5);
    EXPECT_EQ(c["n"]["yes"], true);
    EXPECT_TRUE(c["n"]["nothing"].is_null());
    EXPECT_EQ(c["n"]["list"], Json::parse("[1, 2]"));
    EXPECT_EQ(c["n"]["obj"], Json::parse("{\"a\": 1}"));
    EXPECT_EQ(c["n"]["quoted"], "8");
    EXPECT_EQ(c["n"]["empty"], "");
    EXPECT_EQ(c["n"]["caps"], "True");
    EXPECT_EQ(c["n"]["lead"], "01");
    EXPECT_EQ(c["n"]["huge"], "1e400");
    EXPECT_EQ(c["n"]["eq"], "a=b");
    EXPECT_EQ(c["n"]["rate"], "100Gbps");
}

TEST(ConfigSet, CreatesNestedObjectsAndKeepsSiblings)
{
    Json c = Json::parse("{\"a\": {\"z\": 2, \"b\": {\"keep\": 1}}, \"top\": 0}");
    ApplySetOverride(c, "a.b.c.d=1");
    EXPECT_EQ(c,
              Json::parse("{\"a\": {\"z\": 2, \"b\": {\"keep\": 1, \"c\": {\"d\": 1}}}, "
                          "\"top\": 0}"));
    // Replacing an object replaces it (no merge).
    ApplySetOverride(c, "a.b={\"q\": 1}");
    EXPECT_EQ(c["a"]["b"], Json::parse("{\"q\": 1}"));
    // A scalar may be replaced by anything, including an object.
    ApplySetOverride(c, "top={\"x\": [1]}");
    EXPECT_EQ(c["top"]["x"][0], 1);
    // Digit keys are object keys.
    ApplySetOverride(c, "a.2=two");
    EXPECT_EQ(c["a"]["2"], "two");
}

TEST(ConfigSet, ArrayElementsUseBrackets)
{
    Json c = Json::parse("{\"traffic\": {\"matrix\": [[1, 2], [3, 4]], \"flows\": [{\"r\": 1}]}}");
    ApplySetOverride(c, "traffic.matrix[1][0]=9");
    EXPECT_EQ(c["traffic"]["matrix"], Json::parse("[[1, 2], [9, 4]]"));
    ApplySetOverride(c, "traffic.flows[0].r=100Gbps");
    ApplySetOverride(c, "traffic.flows[0].new.deep=1");
    EXPECT_EQ(c["traffic"]["flows"][0],
              Json::parse("{\"r\": \"100Gbps\", \"new\": {\"deep\": 1}}"));

    EXPECT_TRUE(ThrowsConfigError([&] { ApplySetOverride(c, "traffic.matrix[2][0]=1"); },
                                  "--set",
                                  {"traffic.matrix[2] does not exist (traffic.matrix has 2 "
                                   "elements; arrays are not grown)",
                                   "expected --set=a.b.c=value"}));
    EXPECT_TRUE(ThrowsConfigError([&] { ApplySetOverride(c, "traffic.matrix.1=1"); },
                                  "--set",
                                  {"traffic.matrix is an array, not an object (index arrays as "
                                   "traffic.matrix[1])"}));
    EXPECT_TRUE(ThrowsConfigError([&] { ApplySetOverride(c, "traffic.q[0]=1"); },
                                  "--set",
                                  {"there is no array at traffic.q"}));
    EXPECT_TRUE(ThrowsConfigError([&] { ApplySetOverride(c, "traffic.matrix[0][1][0]=1"); },
                                  "--set",
                                  {"traffic.matrix[0][1] is a number, not an array"}));
    EXPECT_TRUE(ThrowsConfigError([&] { ApplySetOverride(c, "traffic.matrix[0][1].x=1"); },
                                  "--set",
                                  {"traffic.matrix[0][1] is a number, not an object"}));
}

TEST(ConfigSet, MalformedAssignmentsNameTheArgumentAndTheExpectedForm)
{
    Json c = Json::parse("{\"topology\": {\"k\": 4}}");
    const Json before = c;
    const std::string usage = "; expected --set=a.b.c=value";

    struct Case
    {
        const char* arg;
        const char* problem;
    };

    const Case cases[] = {
        {"topology.k", "missing '='"},
        {"=5", "empty path before '='"},
        {"a..b=1", "empty key in path \"a..b\""},
        {".a=1", "empty key"},
        {"a.=1", "empty key"},
        {"[0]=1", "empty key"},
        {"a[x]=1", "malformed index in \"a[x]\""},
        {"a[1=1", "malformed index"},
        {"a[]=1", "malformed index"},
        {"a[0]x=1", "malformed index"},
        {"a]=1", "malformed index"},
        {"a[-1]=1", "malformed index"},
        {"x=[1, 2", "the value is not valid JSON (line 1, column 6: "},
        {"x={\"a\": 1, \"a\": 2}", "the value is not valid JSON (duplicate key a;"},
        {"x=\"unterminated", "the value is not valid JSON"},
        {"topology.k.x=1", "topology.k is a number, not an object"},
        {"x=\xff", "the text is not valid UTF-8"},
    };
    for (const Case& k : cases)
    {
        const std::string arg = k.arg;
        // The argument is quoted as JSON in the message (not for the non-UTF-8 one).
        const std::string quoted = arg == "x=\xff" ? "--set: \"x=" : Json(arg).dump();
        EXPECT_TRUE(ThrowsConfigError([&] { ApplySetOverride(c, arg); },
                                      "--set",
                                      {std::string(k.problem), usage, quoted}))
            << arg;
    }
    EXPECT_TRUE(ThrowsConfigError([&] { ApplySetOverride(c, "topology.k"); },
                                  "--set",
                                  {},
                                  "--set: \"topology.k\": missing '='; expected "
                                  "--set=a.b.c=value (keys joined by '.', array elements as "
                                  "key[i]; the value is JSON or plain text)"));
    EXPECT_EQ(c, before);
}

TEST(ConfigSet, FailuresLeaveTheConfigUntouched)
{
    Json c = Json::parse("{\"m\": [1]}");
    const Json before = c;
    // n and n.o would be created before the missing array is found.
    EXPECT_TRUE(ThrowsConfigError([&] { ApplySetOverride(c, "n.o.m[0]=1"); },
                                  "--set",
                                  {"there is no array at n.o.m"}));
    EXPECT_EQ(c, before);

    Json notObject = Json::array();
    EXPECT_TRUE(ThrowsConfigError([&] { ApplySetOverride(notObject, "a=1"); },
                                  "--set",
                                  {"the configuration is an array, not an object"}));
    EXPECT_EQ(notObject, Json::array());
}

// --- --unset ---------------------------------------------------------------------------------

TEST(ConfigUnset, RemovesKeysAndSectionsAnywhereOnThePath)
{
    Json c = Json::parse(R"({"seed": 1, "transport": {"type": "rdma", "mtu": 4096,
        "cc": {"type": "dcqcn", "g": 0.0625}}, "tenants": [{"name": "a", "bytes": 5}]})");
    ApplyUnsetOverride(c, "transport.cc.g");
    EXPECT_EQ(c["transport"]["cc"], Json::parse(R"({"type": "dcqcn"})"));
    ApplyUnsetOverride(c, "tenants[0].bytes");
    EXPECT_EQ(c["tenants"], Json::parse(R"([{"name": "a"}])"));
    ApplyUnsetOverride(c, "transport");
    EXPECT_FALSE(c.contains("transport"));
    EXPECT_EQ(c, Json::parse(R"({"seed": 1, "tenants": [{"name": "a"}]})"));
    // In order with --set: the section goes, then the new type starts a fresh one.
    ApplySetOverride(c, "transport.type=ideal");
    EXPECT_EQ(c["transport"], Json::parse(R"({"type": "ideal"})"));
}

TEST(ConfigUnset, BadPathsNameTheArgumentAndLeaveTheConfigUntouched)
{
    Json c = Json::parse(R"({"seed": 1, "transport": {"type": "rdma", "mtu": 4096},
        "tenants": [{"name": "a"}]})");
    const Json before = c;
    const std::string usage = "; expected --unset=a.b.c (keys joined by '.', array elements as "
                              "key[i]; the last part is the key to remove)";

    struct Case
    {
        const char* arg;
        const char* problem;
    };

    const Case cases[] = {
        {"", "empty path"},
        {"transport.mtu=1", "a path has no '=' (to give a key a value, use --set)"},
        {"transport.rto",
         "there is no transport.rto to remove (transport has mtu, type)"}, // a typo is no no-op
        {"topology.k",
         "there is no topology to remove (the configuration has seed, tenants, "
         "transport)"},
        {"seed.x", "seed is a number, not an object"},
        {"tenants[0]",
         "array elements cannot be removed; --set the whole array, or remove tenants"},
        {"tenants[3].name", "tenants[3] does not exist (tenants has 1 elements)"},
        {"transport[0].x", "transport is an object, not an array"},
        {"a..b", "empty key in path \"a..b\""},
        {"a[x]", "malformed index in \"a[x]\""},
        {"\xff", "the text is not valid UTF-8"},
    };
    for (const Case& k : cases)
    {
        const std::string arg = k.arg;
        EXPECT_TRUE(ThrowsConfigError([&] { ApplyUnsetOverride(c, arg); },
                                      "--unset",
                                      {std::string(k.problem), usage}))
            << arg;
        EXPECT_EQ(c, before) << arg;
    }
    EXPECT_TRUE(ThrowsConfigError([&] { ApplyUnsetOverride(c, "transport.rto"); },
                                  "--unset",
                                  {},
                                  "--unset: \"transport.rto\": there is no transport.rto to "
                                  "remove (transport has mtu, type)" +
                                      usage));
}

// --- ConfigReader: scalars -------------------------------------------------------------------

TEST(ConfigReader, RejectsNonObjects)
{
    // A reader keeps a pointer to its object: temporaries are refused at compile time.
    static_assert(!std::is_constructible<ConfigReader, Json&&, std::string, Json*>::value,
                  "ConfigReader must not bind a temporary document");
    static_assert(std::is_constructible<ConfigReader, const Json&, std::string, Json*>::value,
                  "ConfigReader reads a named document");
    Json eff;
    const Json array = Json::array();
    const Json number = 3;
    EXPECT_TRUE(ThrowsConfigError([&] { ConfigReader(array, "topology", &eff); },
                                  "topology",
                                  {},
                                  "topology: expected an object, got an array"));
    EXPECT_TRUE(ThrowsConfigError([&] { ConfigReader(number, "", &eff); },
                                  "(root)",
                                  {"expected an object, got number 3"}));
}

TEST(ConfigReader, IntegersWrongTypesAndRanges)
{
    const Json doc = Json::parse(R"({"k": 8, "s": "four", "f": 4.5, "g": 4.0, "e": 1e6,
        "n": null, "b": true, "neg": -5, "big": 18446744073709551615})");
    ConfigReader r(doc, "topology", nullptr);
    EXPECT_EQ(r.GetInt("k", 4, 2, 128), 8);
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetInt("s", 4, 2, 128); },
                                  "topology.s",
                                  {},
                                  "topology.s: expected an integer, got string \"four\""));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetInt("f", 4, 2, 128); },
                                  "topology.f",
                                  {},
                                  "topology.f: expected an integer, got number 4.5"));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetInt("g", 4, 2, 128); },
                                  "topology.g",
                                  {"expected an integer, got number 4.0 (write the integer "
                                   "without a decimal point or exponent)"}));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetUint("e", 4, 2, 10000000); },
                                  "topology.e",
                                  {"got number 1000000.0", "without a decimal point"}));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetInt("n", 4, 2, 128); },
                                  "topology.n",
                                  {},
                                  "topology.n: expected an integer, got null"));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetInt("b", 4, 2, 128); },
                                  "topology.b",
                                  {"expected an integer, got boolean true"}));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetInt("k", 4, 2, 6); },
                                  "topology.k",
                                  {},
                                  "topology.k: 8 is out of range; accepted 2..6"));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetInt("neg", 0, 0, 10); },
                                  "topology.neg",
                                  {"-5 is out of range; accepted 0..10"}));
    EXPECT_EQ(r.GetInt("neg", 0, -10, 10), -5);
    EXPECT_TRUE(
        ThrowsConfigError([&] { r.GetInt("k", 10, 10, std::numeric_limits<int64_t>::max()); },
                          "topology.k",
                          {"8 is out of range; accepted 10 or more"}));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetInt("k", 0, std::numeric_limits<int64_t>::min(), 5); },
                                  "topology.k",
                                  {"8 is out of range; accepted up to 5"}));
    EXPECT_TRUE(ThrowsConfigError(
        [&] {
            r.GetInt("big",
                     0,
                     std::numeric_limits<int64_t>::min(),
                     std::numeric_limits<int64_t>::max());
        },
        "topology.big",
        {"18446744073709551615 is out of range"}));
    EXPECT_EQ(r.GetUint("big", 0, 0, std::numeric_limits<uint64_t>::max()),
              18446744073709551615ull);
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetUint("neg", 1, 0, 10); },
                                  "topology.neg",
                                  {},
                                  "topology.neg: -5 is out of range; accepted 0..10"));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetUint("s", 1, 0, 10); },
                                  "topology.s",
                                  {"expected a non-negative integer, got string \"four\""}));
    EXPECT_EQ(r.GetUint("k", 1, 0, 10), 8u);
    EXPECT_EQ(r.GetInt("missing", 4, 2, 128), 4);
}

TEST(ConfigReader, DoublesBoolsStringsEnums)
{
    Json doc = Json::parse(R"({"x": 1, "y": 0.25, "s": "0.5", "big": 1.5, "on": true,
        "str": "true", "one": 1, "name": "n1", "num": 3, "lb": "spray", "bad": "rr",
        "caps": "ECMP", "lbn": 1})");
    doc["nan"] = std::nan("");
    doc["inf"] = std::numeric_limits<double>::infinity();
    Json eff;
    ConfigReader r(doc, "switch", &eff);
    EXPECT_EQ(r.GetDouble("x", 0.5, 0, 1), 1.0);
    EXPECT_TRUE(eff["x"].is_number_float()); // integers are recorded as floats
    EXPECT_EQ(r.GetDouble("y", 0.5, 0, 1), 0.25);
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetDouble("s", 0.5, 0, 1); },
                                  "switch.s",
                                  {},
                                  "switch.s: expected a number, got string \"0.5\""));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetDouble("big", 0.5, 0, 1); },
                                  "switch.big",
                                  {},
                                  "switch.big: 1.5 is out of range; accepted 0.0..1.0"));
    EXPECT_TRUE(ThrowsConfigError(
        [&] { r.GetDouble("big", 2, 2, std::numeric_limits<double>::infinity()); },
        "switch.big",
        {"1.5 is out of range; accepted 2.0 or more"}));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetDouble("nan", 0.5, 0, 1); },
                                  "switch.nan",
                                  {"expected a finite number, got number nan"}));
    EXPECT_TRUE(ThrowsConfigError(
        [&] {
            r.GetDouble("inf",
                        0.5,
                        -std::numeric_limits<double>::infinity(),
                        std::numeric_limits<double>::infinity());
        },
        "switch.inf",
        {"expected a finite number, got number inf"}));

    EXPECT_TRUE(r.GetBool("on", false));
    EXPECT_FALSE(r.GetBool("off", false));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetBool("str", false); },
                                  "switch.str",
                                  {},
                                  "switch.str: expected true or false, got string \"true\""));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetBool("one", false); },
                                  "switch.one",
                                  {"expected true or false, got number 1"}));

    EXPECT_EQ(r.GetString("name", "d"), "n1");
    EXPECT_EQ(r.GetString("nameless", ""), "");
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetString("num", "d"); },
                                  "switch.num",
                                  {},
                                  "switch.num: expected a string, got number 3"));

    EXPECT_EQ(r.GetEnum("lb", "ecmp", LB), "spray");
    EXPECT_TRUE(ThrowsConfigError(
        [&] { r.GetEnum("bad", "ecmp", LB); },
        "switch.bad",
        {},
        "switch.bad: \"rr\" is not accepted; accepted values: \"ecmp\", \"spray\""));
    EXPECT_TRUE(ThrowsConfigError(
        [&] { r.GetEnum("caps", "ecmp", LB); },
        "switch.caps",
        {},
        "switch.caps: \"ECMP\" is not accepted (did you mean \"ecmp\"?); accepted values: "
        "\"ecmp\", \"spray\""));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetEnum("lbn", "ecmp", LB); },
                                  "switch.lbn",
                                  {},
                                  "switch.lbn: expected one of \"ecmp\", \"spray\", got number 1"));
}

TEST(ConfigReader, UnitFieldsAreNormalizedInTheEffectiveConfig)
{
    const Json doc = Json::parse(R"({"rate": "400Gb/s", "fast": "1.6Tbps", "nrate": 100,
        "delay": "1.5us", "tiny": "1000ns", "long": "5s", "ndelay": 5,
        "buf": "4KiB", "mtu": 1500, "small": "1KiB", "fbuf": 2.5})");
    Json eff;
    ConfigReader r(doc, "link", &eff);
    EXPECT_EQ(r.GetRate("rate", "100Gbps"), 400000000000ull);
    EXPECT_EQ(r.GetRate("fast", "100Gbps"), 1600000000000ull);
    EXPECT_TRUE(ThrowsConfigError(
        [&] { r.GetRate("nrate", "100Gbps"); },
        "link.nrate",
        {},
        "link.nrate: expected a data rate string such as \"100Gbps\", got number 100"));
    EXPECT_EQ(r.GetTimePs("delay", "1us", 0, 1000000000), 1500000);
    EXPECT_EQ(r.GetTimePs("tiny", "1us", 0, 1000000000), 1000000);
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetTimePs("long", "1us", 0, 1000000000); },
                                  "link.long",
                                  {},
                                  "link.long: \"5s\" is out of range; accepted 0ps..1ms"));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetTimePs("tiny", "2us", 2000000, 3000000); },
                                  "link.tiny",
                                  {"\"1000ns\" is out of range; accepted 2us..3us"}));
    EXPECT_EQ(r.GetTimePs("tiny", "1s", 1, std::numeric_limits<int64_t>::max()), 1000000);
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetTimePs("ndelay", "1us", 0, 1000000000); },
                                  "link.ndelay",
                                  {"expected a time string such as \"1us\", got number 5"}));
    EXPECT_EQ(r.GetBytes("buf", 0, 0, 1ull << 40), 4096u);
    EXPECT_EQ(r.GetBytes("mtu", 4096, 64, 9216), 1500u);
    EXPECT_TRUE(ThrowsConfigError(
        [&] { r.GetBytes("small", 4096, 1500, 9000); },
        "link.small",
        {},
        "link.small: \"1KiB\" (1024 bytes) is out of range; accepted 1500..9000 bytes"));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetBytes("mtu", 9000, 9000, 9216); },
                                  "link.mtu",
                                  {"1500 is out of range; accepted 9000..9216 bytes"}));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetBytes("fbuf", 0, 0, 100); },
                                  "link.fbuf",
                                  {"expected a byte count", "got number 2.5"}));

    EXPECT_EQ(eff["rate"], "400Gbps");
    EXPECT_EQ(eff["fast"], "1600Gbps");
    EXPECT_EQ(eff["delay"], "1500ns");
    EXPECT_EQ(eff["tiny"], "1us");
    EXPECT_TRUE(eff["buf"].is_number_unsigned());
    EXPECT_EQ(eff["buf"], 4096);
    EXPECT_EQ(eff["mtu"], 1500);
}

TEST(ConfigReader, DefaultsAreRecordedNormalized)
{
    const Json doc = Json::object();
    Json eff;
    ConfigReader r(doc, "", &eff);
    EXPECT_EQ(r.GetInt("k", 4, 2, 128), 4);
    EXPECT_EQ(r.GetUint("seed", 1, 0, 100), 1u);
    EXPECT_EQ(r.GetDouble("alpha", 1, 0, 2), 1.0);
    EXPECT_FALSE(r.GetBool("pfc", false));
    EXPECT_EQ(r.GetString("name", "run"), "run");
    EXPECT_EQ(r.GetEnum("lb", "ecmp", LB), "ecmp");
    EXPECT_EQ(r.GetRate("rate", "100Gb/s"), 100000000000ull);
    EXPECT_EQ(r.GetTimePs("delay", "1000ns", 0, 1000000000), 1000000);
    EXPECT_EQ(r.GetBytes("mtu", 4096, 64, 9216), 4096u);
    ConfigReader link = r.GetObject("link");
    EXPECT_EQ(link.GetRate("rate", "0.4Tbps"), 400000000000ull);
    link.Finish();
    r.Finish();
    EXPECT_EQ(eff.dump(),
              "{\"alpha\":1.0,\"delay\":\"1us\",\"k\":4,\"lb\":\"ecmp\",\"link\":{\"rate\":"
              "\"400Gbps\"},\"mtu\":4096,\"name\":\"run\",\"pfc\":false,\"rate\":\"100Gbps\","
              "\"seed\":1}");
}

TEST(ConfigReader, NullIsNeverADefault)
{
    const Json doc = Json::parse(R"({"a": null})");
    ConfigReader r(doc, "x", nullptr);
    EXPECT_TRUE(r.Has("a"));
    const std::vector<std::function<void()>> reads = {
        [&] { r.GetBool("a", true); },
        [&] { r.GetInt("a", 1, 0, 2); },
        [&] { r.GetUint("a", 1, 0, 2); },
        [&] { r.GetDouble("a", 1, 0, 2); },
        [&] { r.GetString("a", ""); },
        [&] { r.GetEnum("a", "ecmp", LB); },
        [&] { r.GetRate("a", "1Gbps"); },
        [&] { r.GetTimePs("a", "1us", 0, 1000000000); },
        [&] { r.GetBytes("a", 1, 0, 2); },
        [&] { r.GetObject("a"); },
        [&] { r.GetArray("a"); },
    };
    for (size_t i = 0; i < reads.size(); ++i)
    {
        EXPECT_TRUE(ThrowsConfigError(reads[i], "x.a", {"expected ", ", got null"})) << i;
    }
}

TEST(ConfigReader, BadDefaultsAreProgrammingErrors)
{
    const Json doc = Json::object();
    ConfigReader r(doc, "", nullptr);
    EXPECT_THROW(r.GetInt("k", 1, 2, 128), std::invalid_argument);
    EXPECT_THROW(r.GetInt("k", 4, 128, 2), std::invalid_argument);
    EXPECT_THROW(r.GetUint("k", 200, 2, 128), std::invalid_argument);
    EXPECT_THROW(r.GetDouble("d", 2, 0, 1), std::invalid_argument);
    EXPECT_THROW(r.GetDouble("d", std::nan(""), 0, 1), std::invalid_argument);
    EXPECT_THROW(r.GetEnum("lb", "rr", LB), std::invalid_argument);
    EXPECT_THROW(r.GetEnum("lb", "ecmp", {}), std::invalid_argument);
    EXPECT_THROW(r.GetRate("rate", "fast"), std::invalid_argument);
    EXPECT_THROW(r.GetTimePs("t", "2ms", 0, 1000000000), std::invalid_argument);
    EXPECT_THROW(r.GetTimePs("t", "1us", 5, 4), std::invalid_argument);
    EXPECT_THROW(r.GetBytes("b", 10, 64, 9216), std::invalid_argument);
    // Not a ConfigError: a CLI that reports ConfigError as bad input must not blame the user.
    try
    {
        r.GetInt("k", 1, 2, 128);
    }
    catch (const ConfigError&)
    {
        ADD_FAILURE() << "bad default reported as ConfigError";
    }
    catch (const std::invalid_argument&)
    {
    }
}

TEST(ConfigReader, RereadingAKeyIsConsistent)
{
    const Json doc = Json::parse(R"({"k": 8})");
    Json eff;
    ConfigReader r(doc, "t", &eff);
    EXPECT_EQ(r.GetInt("k", 4, 2, 128), 8);
    EXPECT_EQ(r.GetInt("k", 4, 2, 128), 8);
    EXPECT_EQ(eff, Json::parse(R"({"k": 8})"));
    ConfigReader a = r.GetObject("sub");
    a.GetInt("x", 1, 0, 9);
    ConfigReader b = r.GetObject("sub"); // same effective object, members kept
    b.GetInt("y", 2, 0, 9);
    EXPECT_EQ(eff, Json::parse(R"({"k": 8, "sub": {"x": 1, "y": 2}})"));
    r.Finish();
}

// --- ConfigReader: unknown keys --------------------------------------------------------------

TEST(ConfigReader, FinishReportsTheFirstUnknownKeyInSortedOrder)
{
    const Json doc = Json::parse(R"({"zeta": 1, "k": 4, "link": {}, "alpha": 2, "type": "x"})");
    ConfigReader r(doc, "topology", nullptr);
    r.GetInt("k", 4, 2, 128);
    r.GetObject("link");
    r.GetString("type", "fat-tree");
    r.GetInt("unused", 0, 0, 1); // absent keys read still count as accepted
    EXPECT_TRUE(ThrowsConfigError([&] { r.Finish(); },
                                  "topology.alpha",
                                  {},
                                  "topology.alpha: unknown key; accepted keys: k, link, type, "
                                  "unused"));
}

TEST(ConfigReader, FinishSuggestsCloseKeysAndHandlesNone)
{
    const Json doc = Json::parse(R"({"rat": "1Gbps", "delay": "1us"})");
    ConfigReader r(doc, "topology.link", nullptr);
    r.GetRate("rate", "100Gbps");
    r.GetTimePs("delay", "1us", 0, 1000000000);
    EXPECT_TRUE(ThrowsConfigError(
        [&] { r.Finish(); },
        "topology.link.rat",
        {},
        "topology.link.rat: unknown key (did you mean \"rate\"?); accepted keys: delay, rate"));

    const Json root = Json::parse(R"({"x": 1})");
    ConfigReader nothing(root, "", nullptr);
    EXPECT_TRUE(ThrowsConfigError([&] { nothing.Finish(); },
                                  "x",
                                  {},
                                  "x: unknown key; accepted keys: none"));
}

TEST(ConfigReader, HasDoesNotMarkAKeyAsRead)
{
    const Json doc = Json::parse(R"({"k": 4})");
    ConfigReader r(doc, "t", nullptr);
    EXPECT_TRUE(r.Has("k"));
    EXPECT_FALSE(r.Has("q"));
    EXPECT_TRUE(ThrowsConfigError([&] { r.Finish(); }, "t.k", {"unknown key"}));
    r.GetInt("k", 1, 0, 9);
    EXPECT_NO_THROW(r.Finish());
}

TEST(ConfigReader, ChildrenFinishSeparately)
{
    const Json doc = Json::parse(R"({"link": {"rate": "1Gbps", "colour": "red"}})");
    Json eff;
    ConfigReader r(doc, "topology", &eff);
    ConfigReader link = r.GetObject("link");
    EXPECT_EQ(link.GetPath(), "topology.link");
    EXPECT_EQ(link.PathOf("rate"), "topology.link.rate");
    link.GetRate("rate", "100Gbps");
    EXPECT_NO_THROW(r.Finish());
    EXPECT_TRUE(ThrowsConfigError([&] { link.Finish(); },
                                  "topology.link.colour",
                                  {"unknown key; accepted keys: rate"}));
}

// --- ConfigReader: objects and arrays --------------------------------------------------------

TEST(ConfigReader, NestedObjects)
{
    const Json doc = Json::parse(R"({"link": "fast", "arr": [1], "ok": {"rate": "1Tbps"}})");
    Json eff;
    ConfigReader r(doc, "topology", &eff);
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetObject("link"); },
                                  "topology.link",
                                  {},
                                  "topology.link: expected an object, got string \"fast\""));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetObject("arr"); },
                                  "topology.arr",
                                  {"expected an object, got an array"}));
    EXPECT_FALSE(eff.contains("link")); // nothing recorded for a rejected object
    ConfigReader ok = r.GetObject("ok");
    EXPECT_THROW(ok.GetRate("rate", "nope"), std::invalid_argument); // bad default
    EXPECT_EQ(ok.GetRate("rate", "1Gbps"), 1000000000000ull);
    ConfigReader deeper = ok.GetObject("mmu");
    EXPECT_EQ(deeper.GetBytes("buffer", 1 << 20, 0, 1ull << 40), 1u << 20);
    EXPECT_EQ(deeper.PathOf("buffer"), "topology.ok.mmu.buffer");
    EXPECT_EQ(eff["ok"]["mmu"]["buffer"], 1048576);
}

TEST(ConfigReader, ArraysAndElementPaths)
{
    const Json doc = Json::parse(R"({"matrix": [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, "x"]],
        "notarray": {"a": 1}, "rates": ["100Gb/s", "1.6Tbps"]})");
    Json eff;
    ConfigReader r(doc, "traffic", &eff);
    EXPECT_EQ(r.GetArray("missing"), nullptr);
    EXPECT_FALSE(eff.contains("missing"));
    EXPECT_TRUE(ThrowsConfigError([&] { r.GetArray("notarray"); },
                                  "traffic.notarray",
                                  {},
                                  "traffic.notarray: expected an array, got an object"));
    const Json* m = r.GetArray("matrix");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(eff["matrix"], *m); // copied verbatim
    EXPECT_EQ(r.ElementPath("matrix", 3), "traffic.matrix[3]");
    uint64_t sum = 0;
    auto readAll = [&] {
        for (size_t i = 0; i < m->size(); ++i)
        {
            const std::string row = r.ElementPath("matrix", i);
            const Json& cells = (*m)[i];
            for (size_t j = 0; j < cells.size(); ++j)
            {
                sum += ReadJsonUint(cells[j], IndexPath(row, j), 0, 100);
            }
        }
    };
    EXPECT_TRUE(ThrowsConfigError(readAll,
                                  "traffic.matrix[3][2]",
                                  {},
                                  "traffic.matrix[3][2]: expected a non-negative integer, got "
                                  "string \"x\""));
    EXPECT_EQ(sum, 55u);

    // Normalized elements replace the verbatim copy.
    const Json* rates = r.GetArray("rates");
    ASSERT_NE(rates, nullptr);
    Json normalized = Json::array();
    for (size_t i = 0; i < rates->size(); ++i)
    {
        normalized.push_back(FormatRate(ReadJsonRate((*rates)[i], r.ElementPath("rates", i))));
    }
    r.SetEffective("rates", normalized);
    EXPECT_EQ(eff["rates"], Json::parse(R"(["100Gbps", "1600Gbps"])"));
    r.SetEffective("defaulted", Json::array());
    EXPECT_EQ(eff["defaulted"], Json::array());
    const Json another = Json::parse(R"({"defaulted": [1]})");
    ConfigReader marks(another, "", nullptr);
    marks.SetEffective("defaulted", Json::array()); // no effective tree: only marks as read
    EXPECT_NO_THROW(marks.Finish());
}

TEST(ConfigReader, ArrayOfObjects)
{
    const Json doc = Json::parse(R"({"flows": [{"rate": "400Gb/s", "extra": 1},
        {"rate": "1Tbps", "bytes": "1MiB"}, 3, {"rate": "fast"}]})");
    Json eff;
    ConfigReader r(doc, "background", &eff);
    const Json* flows = r.GetArray("flows");
    ASSERT_NE(flows, nullptr);

    ConfigReader f0 = r.GetElementObject("flows", 0);
    EXPECT_EQ(f0.GetPath(), "background.flows[0]");
    EXPECT_EQ(f0.GetRate("rate", "100Gbps"), 400000000000ull);
    EXPECT_EQ(f0.GetBytes("bytes", 4096, 1, 1ull << 40), 4096u);
    EXPECT_TRUE(
        ThrowsConfigError([&] { f0.Finish(); }, "background.flows[0].extra", {"unknown key"}));

    ConfigReader f1 = r.GetElementObject("flows", 1);
    f1.GetRate("rate", "100Gbps");
    f1.GetBytes("bytes", 4096, 1, 1ull << 40);
    EXPECT_NO_THROW(f1.Finish());

    EXPECT_TRUE(ThrowsConfigError([&] { r.GetElementObject("flows", 2); },
                                  "background.flows[2]",
                                  {},
                                  "background.flows[2]: expected an object, got number 3"));
    ConfigReader f3 = r.GetElementObject("flows", 3);
    EXPECT_TRUE(ThrowsConfigError([&] { f3.GetRate("rate", "1Gbps"); },
                                  "background.flows[3].rate",
                                  {"\"fast\" is not a data rate"}));
    EXPECT_THROW(r.GetElementObject("flows", 4), std::invalid_argument);
    EXPECT_THROW(r.GetElementObject("nothing", 0), std::invalid_argument);

    // Element objects hold only what their readers recorded, normalized, defaults included;
    // elements not read through a reader keep the verbatim copy.
    EXPECT_EQ(eff["flows"][0], Json::parse(R"({"rate": "400Gbps", "bytes": 4096})"));
    EXPECT_EQ(eff["flows"][1], Json::parse(R"({"rate": "1Tbps", "bytes": 1048576})"));
    EXPECT_EQ(eff["flows"][2], 3);
}

TEST(ConfigReader, WithoutAnEffectiveTreeNothingIsRecorded)
{
    const Json doc = Json::parse(R"({"k": 8, "link": {}, "a": [{}]})");
    ConfigReader r(doc, "t", nullptr);
    EXPECT_EQ(r.GetInt("k", 4, 2, 128), 8);
    ConfigReader link = r.GetObject("link");
    EXPECT_EQ(link.GetRate("rate", "1Gbps"), 1000000000u);
    ASSERT_NE(r.GetArray("a"), nullptr);
    ConfigReader e = r.GetElementObject("a", 0);
    EXPECT_EQ(e.GetInt("x", 1, 0, 2), 1);
    EXPECT_NO_THROW(r.Finish());
}

TEST(ConfigReader, DescribeJsonNamesTypesAndShortensLongStrings)
{
    EXPECT_EQ(DescribeJson(Json()), "null");
    EXPECT_EQ(DescribeJson(Json(false)), "boolean false");
    EXPECT_EQ(DescribeJson(Json(-3)), "number -3");
    EXPECT_EQ(DescribeJson(Json(0.1)), "number 0.1");
    EXPECT_EQ(DescribeJson(Json("a\"b")), "string \"a\\\"b\"");
    EXPECT_EQ(DescribeJson(Json::array()), "an array");
    EXPECT_EQ(DescribeJson(Json::object()), "an object");
    const std::string longText(200, 'z');
    const std::string d = DescribeJson(Json(longText));
    EXPECT_LT(d.size(), 80u);
    EXPECT_NE(d.find("...\""), std::string::npos);
    EXPECT_EQ(IndexPath("traffic.matrix", 3), "traffic.matrix[3]");
}

// --- Putting it together ---------------------------------------------------------------------

/// Reads a small scenario the way a loader would, returning the effective config's text.
static std::string
ReadScenario(const Json& doc)
{
    Json eff;
    ConfigReader root(doc, "", &eff);
    ConfigReader topo = root.GetObject("topology");
    topo.GetEnum("type", "fat-tree", {"fat-tree", "leaf-spine"});
    topo.GetUint("k", 4, 2, 128);
    ConfigReader link = topo.GetObject("link");
    link.GetRate("rate", "100Gbps");
    link.GetTimePs("delay", "1us", 0, 1000000000000);
    link.Finish();
    topo.Finish();
    ConfigReader sw = root.GetObject("switch");
    sw.GetEnum("load_balancing", "ecmp", LB);
    sw.GetBytes("buffer", 32u << 20, 1500, 1ull << 40);
    sw.Finish();
    root.GetUint("seed", 1, 0, std::numeric_limits<uint64_t>::max());
    root.Finish();
    return eff.dump(2);
}

TEST(ConfigReader, EffectiveConfigIsCanonicalAndComplete)
{
    const std::string a = R"({"seed": 7, "topology": {"k": 8, "link": {"rate": "0.4Tbps"}},
                              "switch": {"buffer": "16MiB"}})";
    const std::string b = R"({"switch": {"buffer": 16777216},
                              "topology": {"link": {"rate": "400Gb/s", "delay": "1000ns"},
                                           "k": 8, "type": "fat-tree"}, "seed": 7})";
    const std::string effA = ReadScenario(ParseJsonText(a, "a"));
    EXPECT_EQ(effA, ReadScenario(ParseJsonText(b, "b")));
    EXPECT_EQ(effA, R"({
  "seed": 7,
  "switch": {
    "buffer": 16777216,
    "load_balancing": "ecmp"
  },
  "topology": {
    "k": 8,
    "link": {
      "delay": "1us",
      "rate": "400Gbps"
    },
    "type": "fat-tree"
  }
})");
    // Reading the effective config back gives the same effective config.
    EXPECT_EQ(ReadScenario(ParseJsonText(effA, "effective")), effA);
}

TEST(ConfigReader, OverridesFlowIntoValidation)
{
    const std::string file =
        WriteTempFile("{\"topology\": {\"k\": 4}, \"switch\": {\"load_balancing\": \"ecmp\"}}");
    Json doc = LoadJsonFile(file);
    ApplySetOverride(doc, "topology.k=16");
    ApplySetOverride(doc, "switch.load_balancing=spray");
    ApplySetOverride(doc, "topology.link.rate=200Gbps");
    const std::string eff = ReadScenario(doc);
    EXPECT_NE(eff.find("\"k\": 16"), std::string::npos) << eff;
    EXPECT_NE(eff.find("\"load_balancing\": \"spray\""), std::string::npos) << eff;
    EXPECT_NE(eff.find("\"rate\": \"200Gbps\""), std::string::npos) << eff;

    ApplySetOverride(doc, "topology.k=four");
    EXPECT_TRUE(ThrowsConfigError([&] { ReadScenario(doc); },
                                  "topology.k",
                                  {},
                                  "topology.k: expected a non-negative integer, got string "
                                  "\"four\""));
    ApplySetOverride(doc, "topology.k=8");
    ApplySetOverride(doc, "topology.linkk.rate=1Gbps");
    EXPECT_TRUE(ThrowsConfigError([&] { ReadScenario(doc); },
                                  "topology.linkk",
                                  {"unknown key (did you mean \"link\"?); accepted keys: k, "
                                   "link, type"}));
}
