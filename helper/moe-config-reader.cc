#include "moe-config-reader.h"

#include "ns3/log.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("ConfigReader");

namespace
{

const char* const RATE_FORMS =
    "use a number followed by bps, kbps, Mbps, Gbps or Tbps (e.g. \"100Gbps\"); "
    "ns-3 spellings such as \"400Gb/s\" work too";

const char* const TIME_FORMS =
    "use a number followed by ps, ns, us (or µs), ms or s (e.g. \"1.5us\"); zero may be "
    "written \"0\"";

const char* const BYTES_FORMS =
    "use a non-negative integer, or a number followed by B, kB, MB, GB, TB (powers of 1000) or "
    "KiB, MiB, GiB, TiB (powers of 1024) (e.g. \"4KiB\")";

const char* const SET_USAGE =
    "expected --set=a.b.c=value (keys joined by '.', array elements as key[i]; the value is "
    "JSON or plain text)";

const char* const UNSET_USAGE =
    "expected --unset=a.b.c (keys joined by '.', array elements as key[i]; the last part is the "
    "key to remove)";

/// A unit and how many base units (bit/s, ps, bytes) it stands for.
struct Unit
{
    const char* name;
    uint64_t multiplier;
};

const Unit RATE_UNITS[] = {
    {"bps", 1ull},
    {"b/s", 1ull},
    {"kbps", 1000ull},
    {"Kbps", 1000ull},
    {"kb/s", 1000ull},
    {"Kb/s", 1000ull},
    {"Mbps", 1000000ull},
    {"Mb/s", 1000000ull},
    {"Gbps", 1000000000ull},
    {"Gb/s", 1000000000ull},
    {"Tbps", 1000000000000ull},
    {"Tb/s", 1000000000000ull},
};

const Unit TIME_UNITS[] = {
    {"ps", 1ull},
    {"ns", 1000ull},
    {"us", 1000000ull},
    {"\xC2\xB5s", 1000000ull}, // U+00B5 MICRO SIGN
    {"\xCE\xBCs", 1000000ull}, // U+03BC GREEK SMALL LETTER MU
    {"ms", 1000000000ull},
    {"s", 1000000000000ull},
};

const Unit BYTE_UNITS[] = {
    {"", 1ull},
    {"B", 1ull},
    {"kB", 1000ull},
    {"KB", 1000ull},
    {"MB", 1000000ull},
    {"GB", 1000000000ull},
    {"TB", 1000000000000ull},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"TiB", 1ull << 40},
};

/// Largest unit first: FormatRate / FormatTimePs pick the first that divides exactly.
const Unit RATE_OUTPUT_UNITS[] = {
    {"Tbps", 1000000000000ull},
    {"Gbps", 1000000000ull},
    {"Mbps", 1000000ull},
    {"kbps", 1000ull},
    {"bps", 1ull},
};

const Unit TIME_OUTPUT_UNITS[] = {
    {"s", 1000000000000ull},
    {"ms", 1000000000ull},
    {"us", 1000000ull},
    {"ns", 1000ull},
    {"ps", 1ull},
};

template <size_t N>
const Unit*
FindUnit(const Unit (&units)[N], const std::string& name)
{
    for (const Unit& u : units)
    {
        if (name == u.name)
        {
            return &u;
        }
    }
    return nullptr;
}

/// JSON-quoted text; bytes that are not UTF-8 are shown as U+FFFD rather than throwing.
std::string
Quote(const std::string& s)
{
    return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

/// Quote, shortening long text (at a UTF-8 character boundary) so messages stay readable.
std::string
QuoteShort(const std::string& s)
{
    const size_t limit = 60;
    if (s.size() <= limit)
    {
        return Quote(s);
    }
    size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
    {
        --cut;
    }
    return Quote(s.substr(0, cut) + "...");
}

bool
IsValidUtf8(const std::string& s)
{
    try
    {
        (void)Json(s).dump();
        return true;
    }
    catch (const Json::type_error&)
    {
        return false;
    }
}

/// "a number", "an object"... for "x is a number, not an object".
std::string
TypeName(const Json& v)
{
    switch (v.type())
    {
    case Json::value_t::null:
        return "null";
    case Json::value_t::boolean:
        return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
        return "a number";
    case Json::value_t::string:
        return "a string";
    case Json::value_t::array:
        return "an array";
    case Json::value_t::object:
        return "an object";
    default:
        return "an unsupported value";
    }
}

std::string
FormatDouble(double d)
{
    if (std::isnan(d))
    {
        return "nan";
    }
    if (std::isinf(d))
    {
        return d > 0 ? "inf" : "-inf";
    }
    return Json(d).dump();
}

/// "accepted 2..128", "accepted 2 or more", "accepted up to 128".
std::string
RangeText(const std::string& lo, const std::string& hi, bool hasLo, bool hasHi)
{
    if (hasLo && hasHi)
    {
        return "accepted " + lo + ".." + hi;
    }
    if (hasLo)
    {
        return "accepted " + lo + " or more";
    }
    if (hasHi)
    {
        return "accepted up to " + hi;
    }
    return "accepted " + lo + ".." + hi;
}

/// " (write it without a decimal point or exponent)" for integral floats given to integer fields.
std::string
FloatHint(const Json& v)
{
    if (v.is_number_float())
    {
        const double d = v.get<double>();
        if (std::isfinite(d) && std::fabs(d) >= 18446744073709551616.0)
        {
            // JSON reads integers beyond 64 bits as floating point: the user wrote no decimal
            // point or exponent, the number is just too large.
            return " (beyond 64-bit integers)";
        }
        if (std::isfinite(d) && d == std::trunc(d))
        {
            return " (write the integer without a decimal point or exponent)";
        }
    }
    return "";
}

/// Edit distance (insertions, deletions, substitutions), case-insensitive.
size_t
Distance(const std::string& a, const std::string& b)
{
    auto lower = [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    std::vector<size_t> prev(b.size() + 1);
    std::vector<size_t> cur(b.size() + 1);
    std::iota(prev.begin(), prev.end(), 0);
    for (size_t i = 1; i <= a.size(); ++i)
    {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
        {
            const size_t subst = prev[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

/// " (did you mean \"x\"?)" when one candidate is a likely misspelling of @p text, else "".
template <typename Container>
std::string
Suggestion(const std::string& text, const Container& candidates)
{
    const std::string* best = nullptr;
    size_t bestDistance = std::numeric_limits<size_t>::max();
    for (const std::string& c : candidates)
    {
        const size_t d = Distance(text, c);
        const size_t allowed = std::min<size_t>(3, std::max<size_t>(1, c.size() / 3));
        if (d <= allowed && d < bestDistance)
        {
            best = &c;
            bestDistance = d;
        }
    }
    return best != nullptr ? " (did you mean " + Quote(*best) + "?)" : "";
}

// --- numbers with units ------------------------------------------------------------------------

enum class LexStatus
{
    OK,
    SYNTAX,
    TOO_LARGE,
    TOO_PRECISE,
};

/// "<ws>[-]digits[.digits]<spaces>unit<ws>" as mantissa * 10^-fracDigits and a unit.
struct Quantity
{
    bool negative{false};
    uint64_t mantissa{0};
    unsigned fracDigits{0};
    std::string unit;
};

bool
IsSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool
IsDigit(char c)
{
    return c >= '0' && c <= '9';
}

LexStatus
Lex(const std::string& text, Quantity* q)
{
    size_t b = 0;
    size_t e = text.size();
    while (b < e && IsSpace(text[b]))
    {
        ++b;
    }
    while (e > b && IsSpace(text[e - 1]))
    {
        --e;
    }
    size_t i = b;
    if (i < e && text[i] == '-')
    {
        q->negative = true;
        ++i;
    }
    const size_t intStart = i;
    while (i < e && IsDigit(text[i]))
    {
        ++i;
    }
    if (i == intStart)
    {
        return LexStatus::SYNTAX;
    }
    std::string digits = text.substr(intStart, i - intStart);
    std::string frac;
    if (i < e && text[i] == '.')
    {
        ++i;
        const size_t fracStart = i;
        while (i < e && IsDigit(text[i]))
        {
            ++i;
        }
        if (i == fracStart)
        {
            return LexStatus::SYNTAX;
        }
        frac = text.substr(fracStart, i - fracStart);
    }
    while (i < e && text[i] == ' ')
    {
        ++i;
    }
    q->unit = text.substr(i, e - i);
    while (!frac.empty() && frac.back() == '0')
    {
        frac.pop_back();
    }
    if (frac.size() > 19)
    {
        return LexStatus::TOO_PRECISE;
    }
    uint64_t m = 0;
    for (char c : digits + frac)
    {
        const uint64_t d = static_cast<uint64_t>(c - '0');
        if (m > (std::numeric_limits<uint64_t>::max() - d) / 10)
        {
            return LexStatus::TOO_LARGE;
        }
        m = m * 10 + d;
    }
    q->mantissa = m;
    q->fracDigits = static_cast<unsigned>(frac.size());
    return LexStatus::OK;
}

enum class ScaleStatus
{
    OK,
    NOT_WHOLE,
    TOO_LARGE,
};

/// mantissa * multiplier / 10^fracDigits, exactly, without intermediate overflow.
ScaleStatus
Scale(const Quantity& q, uint64_t multiplier, uint64_t* out)
{
    uint64_t p10 = 1;
    for (unsigned k = 0; k < q.fracDigits; ++k)
    {
        p10 *= 10; // fracDigits <= 19: 10^19 < 2^64
    }
    const uint64_t g = std::gcd(multiplier, p10);
    const uint64_t divisor = p10 / g;
    const uint64_t factor = multiplier / g;
    if (q.mantissa % divisor != 0)
    {
        return ScaleStatus::NOT_WHOLE;
    }
    const uint64_t whole = q.mantissa / divisor;
    if (factor != 0 && whole > std::numeric_limits<uint64_t>::max() / factor)
    {
        return ScaleStatus::TOO_LARGE;
    }
    *out = whole * factor;
    return ScaleStatus::OK;
}

/// Text with a whole count of the largest unit of @p units that divides @p value.
template <size_t N>
std::string
FormatWithUnits(uint64_t value, const Unit (&units)[N])
{
    for (const Unit& u : units)
    {
        if (value % u.multiplier == 0)
        {
            return std::to_string(value / u.multiplier) + u.name;
        }
    }
    return std::to_string(value) + units[N - 1].name;
}

/// Parse a byte-size string (the string half of ParseBytes).
uint64_t
ParseByteText(const std::string& text, const std::string& path)
{
    Quantity q;
    const LexStatus st = Lex(text, &q);
    if (st == LexStatus::SYNTAX)
    {
        throw ConfigError(path, QuoteShort(text) + " is not a byte size; " + BYTES_FORMS);
    }
    const Unit* unit = FindUnit(BYTE_UNITS, q.unit);
    if (st == LexStatus::OK && unit == nullptr)
    {
        const bool bits =
            !q.unit.empty() && (q.unit.back() == 'b' || q.unit.find("bit") != std::string::npos);
        throw ConfigError(path,
                          QuoteShort(text) + " is not a byte size" +
                              (bits ? " (b means bits; sizes are in bytes, B)" : "") + "; " +
                              BYTES_FORMS);
    }
    if (q.negative)
    {
        throw ConfigError(path, QuoteShort(text) + " is negative; " + BYTES_FORMS);
    }
    uint64_t bytes = 0;
    const ScaleStatus sc = st == LexStatus::OK          ? Scale(q, unit->multiplier, &bytes)
                           : st == LexStatus::TOO_LARGE ? ScaleStatus::TOO_LARGE
                                                        : ScaleStatus::NOT_WHOLE;
    if (sc == ScaleStatus::NOT_WHOLE)
    {
        throw ConfigError(path, QuoteShort(text) + " is not a whole number of bytes");
    }
    if (sc == ScaleStatus::TOO_LARGE)
    {
        throw ConfigError(path,
                          QuoteShort(text) + " is too large; the maximum is " +
                              std::to_string(std::numeric_limits<uint64_t>::max()) + " bytes");
    }
    return bytes;
}

void
CheckBounds(bool bad, const std::string& what, const std::string& path)
{
    if (bad)
    {
        throw std::invalid_argument("moe-fabric ConfigReader: " + what + " for " + path);
    }
}

// --- strict JSON parsing ---------------------------------------------------------------------

/// Follows the parser's events to report a key repeated within one object, with its path.
class DuplicateKeyChecker
{
  public:
    explicit DuplicateKeyChecker(std::string source)
        : m_source(std::move(source))
    {
    }

    bool OnEvent(Json::parse_event_t event, const Json& parsed)
    {
        switch (event)
        {
        case Json::parse_event_t::object_start:
            m_stack.push_back(Frame{true, {}, {}, 0});
            break;
        case Json::parse_event_t::array_start:
            m_stack.push_back(Frame{false, {}, {}, 0});
            break;
        case Json::parse_event_t::key: {
            Frame& top = m_stack.back();
            const std::string& key = parsed.get_ref<const std::string&>();
            if (!top.keys.insert(key).second)
            {
                std::string path = CurrentPath();
                path += path.empty() ? key : "." + key;
                throw ConfigError(m_source,
                                  "duplicate key " + path +
                                      "; a key may appear only once in an object");
            }
            top.key = key;
            break;
        }
        case Json::parse_event_t::object_end:
        case Json::parse_event_t::array_end:
            m_stack.pop_back();
            ElementDone();
            break;
        case Json::parse_event_t::value:
            ElementDone();
            break;
        }
        return true;
    }

  private:
    struct Frame
    {
        bool isObject;
        std::set<std::string> keys; ///< keys seen so far (objects)
        std::string key;            ///< key of the member being parsed (objects)
        size_t index;               ///< index of the element being parsed (arrays)
    };

    void ElementDone()
    {
        if (!m_stack.empty() && !m_stack.back().isObject)
        {
            ++m_stack.back().index;
        }
    }

    /// Path of the innermost open container.
    std::string CurrentPath() const
    {
        std::string path;
        for (size_t i = 0; i + 1 < m_stack.size(); ++i)
        {
            const Frame& f = m_stack[i];
            if (f.isObject)
            {
                path += path.empty() ? f.key : "." + f.key;
            }
            else
            {
                path = IndexPath(path, f.index);
            }
        }
        return path;
    }

    std::string m_source;
    std::vector<Frame> m_stack;
};

/// The parser's own explanation without its "[json.exception...] parse error at ...: " prefix.
std::string
ParserMessage(const std::string& what)
{
    std::string msg = what;
    if (!msg.empty() && msg[0] == '[')
    {
        const size_t close = msg.find("] ");
        if (close != std::string::npos)
        {
            msg = msg.substr(close + 2);
        }
    }
    if (msg.rfind("parse error", 0) == 0)
    {
        const size_t column = msg.find("column ");
        const size_t colon = msg.find(": ", column == std::string::npos ? 0 : column);
        if (colon != std::string::npos)
        {
            msg = msg.substr(colon + 2);
        }
    }
    return msg;
}

[[noreturn]] void
SetFail(const std::string& assignment, const std::string& problem)
{
    throw ConfigError("--set", Quote(assignment) + ": " + problem + "; " + SET_USAGE);
}

[[noreturn]] void
UnsetFail(const std::string& path, const std::string& problem)
{
    throw ConfigError("--unset", Quote(path) + ": " + problem + "; " + UNSET_USAGE);
}

/// How a path parser reports a problem: SetFail or UnsetFail, bound to the argument.
using PathFail = void (*)(const std::string&, const std::string&);

/// One '.'-separated part of a --set path: a key and optional [i] indices.
struct SetSegment
{
    std::string key;
    std::vector<size_t> indices;
};

std::vector<SetSegment>
SplitSetPath(const std::string& assignment, const std::string& lhs, PathFail fail = &SetFail)
{
    std::vector<SetSegment> segments;
    size_t start = 0;
    while (true)
    {
        const size_t dot = lhs.find('.', start);
        const std::string part =
            lhs.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (part.empty())
        {
            fail(assignment, "empty key in path " + Quote(lhs));
        }
        SetSegment seg;
        const size_t bracket = part.find('[');
        seg.key = part.substr(0, bracket);
        if (seg.key.empty())
        {
            fail(assignment, "empty key in path " + Quote(lhs));
        }
        if (seg.key.find(']') != std::string::npos)
        {
            fail(assignment, "malformed index in " + Quote(part) + "; write key[i]");
        }
        size_t i = bracket;
        while (i != std::string::npos && i < part.size())
        {
            size_t j = i + 1;
            size_t index = 0;
            while (j < part.size() && IsDigit(part[j]) && j - i <= 18)
            {
                index = index * 10 + static_cast<size_t>(part[j] - '0');
                ++j;
            }
            if (part[i] != '[' || j == i + 1 || j >= part.size() || part[j] != ']')
            {
                fail(assignment,
                     "malformed index in " + Quote(part) +
                         "; write key[i] with a non-negative integer i");
            }
            seg.indices.push_back(index);
            i = j + 1;
        }
        segments.push_back(seg);
        if (dot == std::string::npos)
        {
            break;
        }
        start = dot + 1;
    }
    return segments;
}

/// The element of @p node that @p seg's indices name (@p node itself without indices), with
/// @p walked extended to its path; @p fail reports a non-array or an index out of range (its
/// message ends with @p sizeNote inside the parenthesis).
Json*
FollowIndices(Json* node,
              const SetSegment& seg,
              std::string& walked,
              const std::string& argument,
              PathFail fail,
              const std::string& sizeNote)
{
    for (size_t index : seg.indices)
    {
        if (!node->is_array())
        {
            fail(argument, walked + " is " + TypeName(*node) + ", not an array");
        }
        if (index >= node->size())
        {
            fail(argument,
                 IndexPath(walked, index) + " does not exist (" + walked + " has " +
                     std::to_string(node->size()) + " elements" + sizeNote + ")");
        }
        node = &(*node)[index];
        walked = IndexPath(walked, index);
    }
    return node;
}

bool
AllDigits(const std::string& s)
{
    return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

} // namespace

// --- units -----------------------------------------------------------------------------------

uint64_t
ParseRate(const std::string& text, const std::string& path)
{
    Quantity q;
    const LexStatus st = Lex(text, &q);
    const Unit* unit = st == LexStatus::SYNTAX ? nullptr : FindUnit(RATE_UNITS, q.unit);
    if (unit == nullptr)
    {
        std::string hint;
        if (st != LexStatus::SYNTAX && q.unit.empty())
        {
            hint = " (a unit is required)";
        }
        else if (st != LexStatus::SYNTAX && q.unit.find('B') != std::string::npos)
        {
            hint = " (B means bytes; rates are in bits per second)";
        }
        throw ConfigError(path,
                          QuoteShort(text) + " is not a data rate" + hint + "; " + RATE_FORMS);
    }
    if (q.negative)
    {
        throw ConfigError(path,
                          QuoteShort(text) + " is negative; a data rate must be greater than 0");
    }
    uint64_t bps = 0;
    const ScaleStatus sc = st == LexStatus::OK          ? Scale(q, unit->multiplier, &bps)
                           : st == LexStatus::TOO_LARGE ? ScaleStatus::TOO_LARGE
                                                        : ScaleStatus::NOT_WHOLE;
    if (sc == ScaleStatus::NOT_WHOLE)
    {
        throw ConfigError(path, QuoteShort(text) + " is not a whole number of bit/s");
    }
    if (sc == ScaleStatus::TOO_LARGE)
    {
        throw ConfigError(path,
                          QuoteShort(text) + " is too large; the maximum is " +
                              std::to_string(std::numeric_limits<uint64_t>::max()) + "bps");
    }
    if (bps == 0)
    {
        throw ConfigError(path, QuoteShort(text) + " is zero; a data rate must be greater than 0");
    }
    return bps;
}

int64_t
ParseTimePs(const std::string& text, const std::string& path)
{
    Quantity q;
    const LexStatus st = Lex(text, &q);
    const Unit* unit = nullptr;
    static const Unit NO_UNIT = {"", 1};
    if (st != LexStatus::SYNTAX)
    {
        unit = FindUnit(TIME_UNITS, q.unit);
        if (unit == nullptr && q.unit.empty() && st == LexStatus::OK && q.mantissa == 0)
        {
            unit = &NO_UNIT; // "0" needs no unit
        }
    }
    if (unit == nullptr)
    {
        const bool bareNumber = st != LexStatus::SYNTAX && q.unit.empty();
        throw ConfigError(path,
                          QuoteShort(text) + " is not a time" +
                              (bareNumber ? " (a unit is required)" : "") + "; " + TIME_FORMS);
    }
    if (q.negative)
    {
        throw ConfigError(path, QuoteShort(text) + " is negative; times must not be negative");
    }
    uint64_t ps = 0;
    const ScaleStatus sc = st == LexStatus::OK          ? Scale(q, unit->multiplier, &ps)
                           : st == LexStatus::TOO_LARGE ? ScaleStatus::TOO_LARGE
                                                        : ScaleStatus::NOT_WHOLE;
    if (sc == ScaleStatus::NOT_WHOLE)
    {
        throw ConfigError(path, QuoteShort(text) + " is not a whole number of picoseconds");
    }
    if (sc == ScaleStatus::TOO_LARGE ||
        ps > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    {
        throw ConfigError(path,
                          QuoteShort(text) + " is too large; the maximum is " +
                              std::to_string(std::numeric_limits<int64_t>::max()) +
                              "ps (about 106 days)");
    }
    return static_cast<int64_t>(ps);
}

uint64_t
ParseBytes(const Json& value, const std::string& path)
{
    if (value.is_number_unsigned())
    {
        return value.get<uint64_t>();
    }
    if (value.is_number_integer())
    {
        const int64_t v = value.get<int64_t>();
        if (v < 0)
        {
            throw ConfigError(path, std::to_string(v) + " is negative; " + BYTES_FORMS);
        }
        return static_cast<uint64_t>(v);
    }
    if (value.is_string())
    {
        return ParseByteText(value.get_ref<const std::string&>(), path);
    }
    throw ConfigError(path,
                      "expected a byte count (a non-negative integer or a string such as "
                      "\"4KiB\"), got " +
                          DescribeJson(value) + FloatHint(value));
}

std::string
FormatTimePs(int64_t ps)
{
    if (ps == 0)
    {
        return "0ps";
    }
    const bool negative = ps < 0;
    // Two's complement magnitude: correct for INT64_MIN too.
    const uint64_t magnitude =
        negative ? ~static_cast<uint64_t>(ps) + 1 : static_cast<uint64_t>(ps);
    // Two steps: GCC 12 reports a false -Wrestrict for "literal + string" at -O3 in C++20/23.
    std::string text = negative ? "-" : "";
    text += FormatWithUnits(magnitude, TIME_OUTPUT_UNITS);
    return text;
}

std::string
FormatRate(uint64_t bps)
{
    if (bps == 0)
    {
        return "0bps";
    }
    return FormatWithUnits(bps, RATE_OUTPUT_UNITS);
}

// --- documents and overrides -----------------------------------------------------------------

Json
ParseJsonText(const std::string& text, const std::string& source)
{
    DuplicateKeyChecker checker(source);
    try
    {
        return Json::parse(text, [&checker](int, Json::parse_event_t event, Json& parsed) {
            return checker.OnEvent(event, parsed);
        });
    }
    catch (const Json::parse_error& e)
    {
        // e.byte is the 1-based offset of the last character read; line and column are
        // 1-based, the column counted in bytes (as the parser does).
        const size_t offset = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
        size_t line = 1;
        size_t lineStart = 0;
        for (size_t i = 0; i < offset; ++i)
        {
            if (text[i] == '\n')
            {
                ++line;
                lineStart = i + 1;
            }
        }
        throw ConfigError(source,
                          "line " + std::to_string(line) + ", column " +
                              std::to_string(offset - lineStart + 1) + ": " +
                              ParserMessage(e.what()));
    }
    catch (const Json::out_of_range& e)
    {
        // A number beyond a double (1e400): the parser gives no position, so name the line of
        // the number it quotes.
        const std::string message = ParserMessage(e.what());
        const size_t open = message.find('\'');
        const size_t close = open == std::string::npos ? open : message.find('\'', open + 1);
        const size_t at = close == std::string::npos
                              ? std::string::npos
                              : text.find(message.substr(open + 1, close - open - 1));
        if (at == std::string::npos)
        {
            throw ConfigError(source, message);
        }
        const size_t line = 1 + std::count(text.begin(), text.begin() + at, '\n');
        const size_t lineStart =
            text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at) + 1;
        throw ConfigError(source,
                          "line " + std::to_string(line) + ", column " +
                              std::to_string(at - lineStart + 1) + ": " + message +
                              " (beyond the range of a double)");
    }
    catch (const Json::exception& e)
    {
        throw ConfigError(source, ParserMessage(e.what()));
    }
}

Json
LoadJsonFile(const std::string& filePath)
{
    NS_LOG_FUNCTION(filePath);
    errno = 0;
    FILE* file = std::fopen(filePath.c_str(), "rb");
    if (file == nullptr)
    {
        throw ConfigError(filePath, std::string("cannot open file (") + std::strerror(errno) + ")");
    }
    std::string text;
    char buffer[65536];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0)
    {
        text.append(buffer, n);
    }
    const bool failed = std::ferror(file) != 0;
    const int error = errno;
    std::fclose(file);
    if (failed)
    {
        throw ConfigError(filePath, std::string("cannot read file (") + std::strerror(error) + ")");
    }
    return ParseJsonText(text, filePath);
}

void
ApplySetOverride(Json& config, const std::string& assignment)
{
    NS_LOG_FUNCTION(assignment);
    if (!IsValidUtf8(assignment))
    {
        SetFail(assignment, "the text is not valid UTF-8");
    }
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos)
    {
        SetFail(assignment, "missing '='");
    }
    const std::string lhs = assignment.substr(0, eq);
    const std::string rhs = assignment.substr(eq + 1);
    if (lhs.empty())
    {
        SetFail(assignment, "empty path before '='");
    }
    const std::vector<SetSegment> segments = SplitSetPath(assignment, lhs);

    Json value;
    const size_t first = rhs.find_first_not_of(" \t\r\n");
    const bool looksLikeJson =
        first != std::string::npos && (rhs[first] == '{' || rhs[first] == '[' || rhs[first] == '"');
    try
    {
        value = ParseJsonText(rhs, "");
    }
    catch (const ConfigError& e)
    {
        if (looksLikeJson)
        {
            SetFail(assignment, "the value is not valid JSON (" + std::string(e.what()) + ")");
        }
        value = rhs; // plain text
    }

    // Work on a copy so that a failing override leaves the configuration untouched.
    Json work = config.is_null() ? Json::object() : config;
    if (!work.is_object())
    {
        SetFail(assignment, "the configuration is " + TypeName(work) + ", not an object");
    }
    Json* current = &work;
    std::string walked;
    for (size_t s = 0; s < segments.size(); ++s)
    {
        const SetSegment& seg = segments[s];
        const bool last = s + 1 == segments.size();
        if (!current->is_object())
        {
            std::string hint;
            if (current->is_array() && AllDigits(seg.key))
            {
                hint = " (index arrays as " + walked + "[" + seg.key + "])";
            }
            SetFail(assignment, walked + " is " + TypeName(*current) + ", not an object" + hint);
        }
        walked += walked.empty() ? seg.key : "." + seg.key;
        auto it = current->find(seg.key);
        if (it == current->end())
        {
            if (!seg.indices.empty())
            {
                SetFail(assignment, "there is no array at " + walked);
            }
            Json& created = (*current)[seg.key];
            if (last)
            {
                created = std::move(value);
                break;
            }
            created = Json::object();
            current = &created;
            continue;
        }
        Json* node =
            FollowIndices(&*it, seg, walked, assignment, &SetFail, "; arrays are not grown");
        if (last)
        {
            *node = std::move(value);
            break;
        }
        current = node;
    }
    config = std::move(work);
    NS_LOG_INFO("--set " << lhs << " = " << rhs);
}

void
ApplyUnsetOverride(Json& config, const std::string& path)
{
    NS_LOG_FUNCTION(path);
    if (!IsValidUtf8(path))
    {
        UnsetFail(path, "the text is not valid UTF-8");
    }
    if (path.empty())
    {
        UnsetFail(path, "empty path");
    }
    if (path.find('=') != std::string::npos)
    {
        UnsetFail(path, "a path has no '=' (to give a key a value, use --set)");
    }
    const std::vector<SetSegment> segments = SplitSetPath(path, path, &UnsetFail);
    if (!segments.back().indices.empty())
    {
        const size_t lastDot = path.rfind('.');
        const size_t bracket = path.find('[', lastDot == std::string::npos ? 0 : lastDot + 1);
        UnsetFail(path,
                  "array elements cannot be removed; --set the whole array, or remove " +
                      path.substr(0, bracket));
    }
    Json* current = &config;
    std::string walked;
    for (size_t s = 0; s < segments.size(); ++s)
    {
        const SetSegment& seg = segments[s];
        if (!current->is_object())
        {
            UnsetFail(path,
                      (walked.empty() ? std::string("the configuration") : walked) + " is " +
                          TypeName(*current) + ", not an object");
        }
        const std::string parent = walked;
        walked += walked.empty() ? seg.key : "." + seg.key;
        auto it = current->find(seg.key);
        if (it == current->end())
        {
            std::string keys;
            for (auto k = current->begin(); k != current->end(); ++k)
            {
                keys += (keys.empty() ? "" : ", ") + k.key();
            }
            UnsetFail(path,
                      "there is no " + walked + " to remove (" +
                          (parent.empty() ? std::string("the configuration") : parent) +
                          (keys.empty() ? " is empty)" : " has " + keys + ")"));
        }
        if (s + 1 == segments.size())
        {
            current->erase(it);
            break;
        }
        current = FollowIndices(&*it, seg, walked, path, &UnsetFail, "");
    }
    NS_LOG_INFO("--unset " << path);
}

// --- single values ---------------------------------------------------------------------------

std::string
DescribeJson(const Json& value)
{
    switch (value.type())
    {
    case Json::value_t::null:
        return "null";
    case Json::value_t::boolean:
        return value.get<bool>() ? "boolean true" : "boolean false";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
        return "number " + value.dump();
    case Json::value_t::number_float:
        return "number " + FormatDouble(value.get<double>());
    case Json::value_t::string:
        return "string " + QuoteShort(value.get_ref<const std::string&>());
    case Json::value_t::array:
        return "an array";
    case Json::value_t::object:
        return "an object";
    default:
        return "an unsupported value";
    }
}

std::string
IndexPath(const std::string& path, std::size_t index)
{
    return path + "[" + std::to_string(index) + "]";
}

bool
ReadJsonBool(const Json& value, const std::string& path)
{
    if (!value.is_boolean())
    {
        throw ConfigError(path, "expected true or false, got " + DescribeJson(value));
    }
    return value.get<bool>();
}

int64_t
ReadJsonInt(const Json& value, const std::string& path, int64_t min, int64_t max)
{
    CheckBounds(min > max, "min > max", path);
    const bool hasLo = min != std::numeric_limits<int64_t>::min();
    const bool hasHi = max != std::numeric_limits<int64_t>::max();
    const std::string range = RangeText(std::to_string(min), std::to_string(max), hasLo, hasHi);
    if (value.is_number_unsigned())
    {
        const uint64_t u = value.get<uint64_t>();
        if (u > static_cast<uint64_t>(max) || static_cast<int64_t>(u) < min)
        {
            throw ConfigError(path, std::to_string(u) + " is out of range; " + range);
        }
        return static_cast<int64_t>(u);
    }
    if (value.is_number_integer())
    {
        const int64_t i = value.get<int64_t>();
        if (i < min || i > max)
        {
            throw ConfigError(path, std::to_string(i) + " is out of range; " + range);
        }
        return i;
    }
    throw ConfigError(path, "expected an integer, got " + DescribeJson(value) + FloatHint(value));
}

uint64_t
ReadDistinctJsonUint(const Json& value,
                     const std::string& path,
                     uint64_t min,
                     uint64_t max,
                     const std::vector<uint64_t>& before,
                     const std::string& noun)
{
    const uint64_t v = ReadJsonUint(value, path, min, max);
    if (std::find(before.begin(), before.end(), v) != before.end())
    {
        throw ConfigError(path, noun + " " + std::to_string(v) + " is listed twice");
    }
    return v;
}

uint64_t
ReadJsonUint(const Json& value, const std::string& path, uint64_t min, uint64_t max)
{
    CheckBounds(min > max, "min > max", path);
    const bool hasHi = max != std::numeric_limits<uint64_t>::max();
    const std::string range = RangeText(std::to_string(min), std::to_string(max), true, hasHi);
    if (value.is_number_unsigned())
    {
        const uint64_t u = value.get<uint64_t>();
        if (u < min || u > max)
        {
            throw ConfigError(path, std::to_string(u) + " is out of range; " + range);
        }
        return u;
    }
    if (value.is_number_integer())
    {
        const int64_t i = value.get<int64_t>();
        if (i < 0 || static_cast<uint64_t>(i) < min || static_cast<uint64_t>(i) > max)
        {
            throw ConfigError(path, std::to_string(i) + " is out of range; " + range);
        }
        return static_cast<uint64_t>(i);
    }
    throw ConfigError(path,
                      "expected a non-negative integer, got " + DescribeJson(value) +
                          FloatHint(value));
}

double
ReadJsonDouble(const Json& value, const std::string& path, double min, double max)
{
    CheckBounds(std::isnan(min) || std::isnan(max) || min > max, "bad bounds", path);
    if (!value.is_number())
    {
        throw ConfigError(path, "expected a number, got " + DescribeJson(value));
    }
    const double d = value.get<double>();
    if (!std::isfinite(d))
    {
        throw ConfigError(path, "expected a finite number, got " + DescribeJson(value));
    }
    if (d < min || d > max)
    {
        const bool hasLo = min > -std::numeric_limits<double>::max();
        const bool hasHi = max < std::numeric_limits<double>::max();
        throw ConfigError(path,
                          value.dump() + " is out of range; " +
                              RangeText(FormatDouble(min), FormatDouble(max), hasLo, hasHi));
    }
    return d;
}

std::string
ReadJsonString(const Json& value, const std::string& path)
{
    if (!value.is_string())
    {
        throw ConfigError(path, "expected a string, got " + DescribeJson(value));
    }
    return value.get<std::string>();
}

std::string
ReadJsonEnum(const Json& value, const std::string& path, const std::vector<std::string>& accepted)
{
    CheckBounds(accepted.empty(), "no accepted values", path);
    std::string list;
    for (const std::string& a : accepted)
    {
        list += (list.empty() ? "" : ", ") + Quote(a);
    }
    if (!value.is_string())
    {
        throw ConfigError(path, "expected one of " + list + ", got " + DescribeJson(value));
    }
    const std::string& s = value.get_ref<const std::string&>();
    if (std::find(accepted.begin(), accepted.end(), s) == accepted.end())
    {
        throw ConfigError(path,
                          QuoteShort(s) + " is not accepted" + Suggestion(s, accepted) +
                              "; accepted values: " + list);
    }
    return s;
}

uint64_t
ReadJsonRate(const Json& value, const std::string& path)
{
    if (!value.is_string())
    {
        throw ConfigError(path,
                          "expected a data rate string such as \"100Gbps\", got " +
                              DescribeJson(value));
    }
    return ParseRate(value.get_ref<const std::string&>(), path);
}

int64_t
ReadJsonTimePs(const Json& value, const std::string& path, int64_t minPs, int64_t maxPs)
{
    CheckBounds(minPs > maxPs, "min > max", path);
    if (!value.is_string())
    {
        throw ConfigError(path,
                          "expected a time string such as \"1us\", got " + DescribeJson(value));
    }
    const std::string& text = value.get_ref<const std::string&>();
    const int64_t ps = ParseTimePs(text, path);
    if (ps < minPs || ps > maxPs)
    {
        const bool hasHi = maxPs != std::numeric_limits<int64_t>::max();
        throw ConfigError(path,
                          QuoteShort(text) + " is out of range; " +
                              RangeText(FormatTimePs(std::max<int64_t>(minPs, 0)),
                                        FormatTimePs(maxPs),
                                        true,
                                        hasHi));
    }
    return ps;
}

uint64_t
ReadJsonBytes(const Json& value, const std::string& path, uint64_t min, uint64_t max)
{
    CheckBounds(min > max, "min > max", path);
    const uint64_t bytes = ParseBytes(value, path);
    if (bytes < min || bytes > max)
    {
        const std::string shown = value.is_string()
                                      ? QuoteShort(value.get_ref<const std::string&>()) + " (" +
                                            std::to_string(bytes) + " bytes)"
                                      : std::to_string(bytes);
        const bool hasHi = max != std::numeric_limits<uint64_t>::max();
        throw ConfigError(path,
                          shown + " is out of range; " +
                              RangeText(std::to_string(min), std::to_string(max), true, hasHi) +
                              " bytes");
    }
    return bytes;
}

// --- ConfigReader ----------------------------------------------------------------------------

ConfigReader::ConfigReader(const Json& obj, std::string path, Json* effective)
    : m_obj(&obj),
      m_path(std::move(path)),
      m_effective(effective)
{
    if (!obj.is_object())
    {
        throw ConfigError(m_path.empty() ? "(root)" : m_path,
                          "expected an object, got " + DescribeJson(obj));
    }
    if (m_effective != nullptr && !m_effective->is_object())
    {
        *m_effective = Json::object();
    }
}

const Json*
ConfigReader::Lookup(const std::string& key)
{
    m_read.insert(key);
    const auto it = m_obj->find(key);
    return it == m_obj->end() ? nullptr : &*it;
}

void
ConfigReader::Record(const std::string& key, Json value)
{
    if (m_effective != nullptr)
    {
        (*m_effective)[key] = std::move(value);
    }
}

bool
ConfigReader::Has(const std::string& key) const
{
    return m_obj->contains(key);
}

bool
ConfigReader::HasArray(const std::string& key) const
{
    const auto it = m_obj->find(key);
    return it != m_obj->end() && it->is_array();
}

bool
ConfigReader::GetBool(const std::string& key, bool def)
{
    const Json* v = Lookup(key);
    const bool result = v != nullptr ? ReadJsonBool(*v, PathOf(key)) : def;
    Record(key, result);
    return result;
}

int64_t
ConfigReader::GetInt(const std::string& key, int64_t def, int64_t min, int64_t max)
{
    CheckBounds(min > max || def < min || def > max, "default outside [min, max]", PathOf(key));
    const Json* v = Lookup(key);
    const int64_t result = v != nullptr ? ReadJsonInt(*v, PathOf(key), min, max) : def;
    Record(key, result);
    return result;
}

uint64_t
ConfigReader::GetUint(const std::string& key, uint64_t def, uint64_t min, uint64_t max)
{
    CheckBounds(min > max || def < min || def > max, "default outside [min, max]", PathOf(key));
    const Json* v = Lookup(key);
    const uint64_t result = v != nullptr ? ReadJsonUint(*v, PathOf(key), min, max) : def;
    Record(key, result);
    return result;
}

double
ConfigReader::GetDouble(const std::string& key, double def, double min, double max)
{
    CheckBounds(!std::isfinite(def) || !(def >= min && def <= max),
                "default not finite or outside [min, max]",
                PathOf(key));
    const Json* v = Lookup(key);
    const double result = v != nullptr ? ReadJsonDouble(*v, PathOf(key), min, max) : def;
    Record(key, result);
    return result;
}

std::string
ConfigReader::GetString(const std::string& key, const std::string& def)
{
    const Json* v = Lookup(key);
    std::string result = v != nullptr ? ReadJsonString(*v, PathOf(key)) : def;
    Record(key, result);
    return result;
}

std::string
ConfigReader::GetEnum(const std::string& key,
                      const std::string& def,
                      const std::vector<std::string>& accepted)
{
    CheckBounds(std::find(accepted.begin(), accepted.end(), def) == accepted.end(),
                "default \"" + def + "\" not among the accepted values",
                PathOf(key));
    const Json* v = Lookup(key);
    std::string result = v != nullptr ? ReadJsonEnum(*v, PathOf(key), accepted) : def;
    Record(key, result);
    return result;
}

uint64_t
ConfigReader::GetRate(const std::string& key, const std::string& def)
{
    uint64_t defBps = 0;
    try
    {
        defBps = ParseRate(def, PathOf(key));
    }
    catch (const ConfigError& e)
    {
        CheckBounds(true, std::string("bad default (") + e.what() + ")", PathOf(key));
    }
    const Json* v = Lookup(key);
    const uint64_t result = v != nullptr ? ReadJsonRate(*v, PathOf(key)) : defBps;
    Record(key, FormatRate(result));
    return result;
}

int64_t
ConfigReader::GetTimePs(const std::string& key,
                        const std::string& def,
                        int64_t minPs,
                        int64_t maxPs)
{
    int64_t defPs = 0;
    try
    {
        defPs = ReadJsonTimePs(Json(def), PathOf(key), minPs, maxPs);
    }
    catch (const ConfigError& e)
    {
        CheckBounds(true, std::string("bad default (") + e.what() + ")", PathOf(key));
    }
    const Json* v = Lookup(key);
    const int64_t result = v != nullptr ? ReadJsonTimePs(*v, PathOf(key), minPs, maxPs) : defPs;
    Record(key, FormatTimePs(result));
    return result;
}

uint64_t
ConfigReader::GetBytes(const std::string& key, uint64_t def, uint64_t min, uint64_t max)
{
    CheckBounds(min > max || def < min || def > max, "default outside [min, max]", PathOf(key));
    const Json* v = Lookup(key);
    const uint64_t result = v != nullptr ? ReadJsonBytes(*v, PathOf(key), min, max) : def;
    Record(key, result);
    return result;
}

ConfigReader
ConfigReader::GetObject(const std::string& key)
{
    static const Json EMPTY = Json::object();
    const Json* v = Lookup(key);
    if (v != nullptr && !v->is_object())
    {
        throw ConfigError(PathOf(key), "expected an object, got " + DescribeJson(*v));
    }
    Json* effective = m_effective != nullptr ? &(*m_effective)[key] : nullptr;
    return ConfigReader(v != nullptr ? *v : EMPTY, PathOf(key), effective);
}

const Json*
ConfigReader::GetArray(const std::string& key)
{
    const Json* v = Lookup(key);
    if (v == nullptr)
    {
        return nullptr;
    }
    if (!v->is_array())
    {
        throw ConfigError(PathOf(key), "expected an array, got " + DescribeJson(*v));
    }
    Record(key, *v);
    return v;
}

ConfigReader
ConfigReader::GetElementObject(const std::string& key, std::size_t index)
{
    const Json* array = Lookup(key);
    CheckBounds(array == nullptr, "GetElementObject on a missing array", PathOf(key));
    if (!array->is_array())
    {
        throw ConfigError(PathOf(key), "expected an array, got " + DescribeJson(*array));
    }
    CheckBounds(index >= array->size(), "GetElementObject index out of bounds", PathOf(key));
    const Json& element = (*array)[index];
    if (!element.is_object())
    {
        throw ConfigError(ElementPath(key, index),
                          "expected an object, got " + DescribeJson(element));
    }
    Json* effective = nullptr;
    if (m_effective != nullptr)
    {
        Json& copy = (*m_effective)[key];
        if (!copy.is_array() || copy.size() != array->size())
        {
            copy = *array;
        }
        effective = &copy[index];
        *effective = Json::object();
    }
    return ConfigReader(element, ElementPath(key, index), effective);
}

void
ConfigReader::SetEffective(const std::string& key, Json value)
{
    m_read.insert(key);
    Record(key, std::move(value));
}

std::string
ConfigReader::PathOf(const std::string& key) const
{
    return m_path.empty() ? key : m_path + "." + key;
}

std::string
ConfigReader::ElementPath(const std::string& key, std::size_t index) const
{
    return IndexPath(PathOf(key), index);
}

const std::string&
ConfigReader::GetPath() const
{
    return m_path;
}

void
ConfigReader::Finish() const
{
    // nlohmann::json objects iterate in sorted key order, so the first unknown key is stable.
    for (auto it = m_obj->begin(); it != m_obj->end(); ++it)
    {
        if (m_read.count(it.key()) != 0)
        {
            continue;
        }
        std::string accepted;
        for (const std::string& k : m_read)
        {
            accepted += (accepted.empty() ? "" : ", ") + k;
        }
        throw ConfigError(PathOf(it.key()),
                          "unknown key" + Suggestion(it.key(), m_read) +
                              "; accepted keys: " + (accepted.empty() ? "none" : accepted));
    }
}

} // namespace moe
} // namespace ns3
