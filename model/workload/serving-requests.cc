#include "serving-requests.h"

#include "trace-line-reader.h"

#include "ns3/log.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("ServingRequests");

namespace
{
constexpr double PS_PER_S = 1e12;

uint64_t
SplitMix(uint64_t& x)
{
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t
Rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/// Exact "123.000004" seconds -> ps (at most 12 fractional digits); false if malformed.
bool
ParseSecondsPs(const std::string& text, int64_t& ps)
{
    if (text.empty())
    {
        return false;
    }
    int64_t whole = 0;
    int64_t frac = 0;
    int fracDigits = 0;
    bool dot = false;
    bool any = false;
    for (char c : text)
    {
        if (c == '.' && !dot)
        {
            dot = true;
            continue;
        }
        if (c < '0' || c > '9')
        {
            return false;
        }
        any = true;
        if (dot)
        {
            if (++fracDigits > 12)
            {
                return false;
            }
            frac = frac * 10 + (c - '0');
        }
        else
        {
            whole = whole * 10 + (c - '0');
            if (whole >= 1000000) // below 10^6 s
            {
                return false;
            }
        }
    }
    if (!any)
    {
        return false;
    }
    for (int i = fracDigits; i < 12; ++i)
    {
        frac *= 10;
    }
    ps = whole * 1000000000000LL + frac;
    return true;
}

std::string
Trim(const std::string& s)
{
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos)
    {
        return "";
    }
    const auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}
} // namespace

ServingRng::ServingRng(uint64_t seed)
{
    uint64_t x = seed;
    for (auto& s : m_s)
    {
        s = SplitMix(x);
    }
}

uint64_t
ServingRng::Next()
{
    const uint64_t result = Rotl(m_s[1] * 5, 7) * 9;
    const uint64_t t = m_s[1] << 17;
    m_s[2] ^= m_s[0];
    m_s[3] ^= m_s[1];
    m_s[1] ^= m_s[2];
    m_s[0] ^= m_s[3];
    m_s[2] ^= t;
    m_s[3] = Rotl(m_s[3], 45);
    return result;
}

double
ServingRng::Uniform()
{
    // 53 random bits, shifted off zero.
    return (static_cast<double>(Next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double
ServingRng::Normal()
{
    const double u1 = Uniform();
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

double
ServingRng::Exponential()
{
    return -std::log(Uniform());
}

double
ServingRng::Gamma(double shape)
{
    if (shape < 1)
    {
        // Boost: Gamma(k) = Gamma(k + 1) x U^(1/k).
        return Gamma(shape + 1) * std::pow(Uniform(), 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    while (true)
    {
        double x;
        double v;
        do
        {
            x = Normal();
            v = 1.0 + c * x;
        } while (v <= 0);
        v = v * v * v;
        const double u = Uniform();
        if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v))
        {
            return d * v;
        }
    }
}

uint32_t
ServingRng::Length(const LengthDistribution& d)
{
    if (d.type == "fixed")
    {
        return d.value;
    }
    if (d.type == "uniform")
    {
        return d.min + static_cast<uint32_t>(Next() % (static_cast<uint64_t>(d.max) - d.min + 1));
    }
    const double v = std::round(d.median * std::exp(d.sigma * Normal()));
    return static_cast<uint32_t>(
        std::clamp(v, static_cast<double>(d.min), static_cast<double>(d.max)));
}

std::vector<ServingRequest>
GenerateRequests(const std::vector<ServingClassSpec>& classes, int64_t horizonPs, uint64_t seed)
{
    std::vector<ServingRequest> out;
    for (uint32_t c = 0; c < classes.size(); ++c)
    {
        const ServingClassSpec& cls = classes[c];
        // Separate streams for gaps and lengths: changing a length distribution leaves the
        // arrival times alone.
        ServingRng gaps(seed * 1000003ull + 2 * c + 1);
        ServingRng lengths(seed * 1000003ull + 2 * c + 2);
        double t = 0;
        for (uint32_t i = 0; cls.requests == 0 || i < cls.requests; ++i)
        {
            const double gap = cls.arrival == "gamma"
                                   ? gaps.Gamma(cls.shape) / (cls.shape * cls.rate)
                                   : gaps.Exponential() / cls.rate;
            t += gap;
            const int64_t ps = static_cast<int64_t>(std::llround(t * PS_PER_S));
            if (horizonPs > 0 && ps > horizonPs)
            {
                break;
            }
            ServingRequest r;
            r.cls = c;
            r.arrivalPs = ps;
            r.promptTokens = lengths.Length(cls.prompt);
            r.outputTokens = lengths.Length(cls.output);
            out.push_back(r);
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const ServingRequest& a, const ServingRequest& b) {
        return a.arrivalPs < b.arrivalPs || (a.arrivalPs == b.arrivalPs && a.cls < b.cls);
    });
    for (uint32_t i = 0; i < out.size(); ++i)
    {
        out[i].id = i;
    }
    return out;
}

std::vector<ServingRequest>
ReadRequestTrace(const std::string& path,
                 const std::vector<ServingClassSpec>& classes,
                 int64_t horizonPs)
{
    if (std::filesystem::is_directory(path))
    {
        throw std::runtime_error(path + ": cannot open the request trace: it is a directory");
    }
    std::ifstream in(path);
    if (!in)
    {
        throw std::runtime_error(path + ": cannot open the request trace: " + std::strerror(errno));
    }
    std::vector<ServingRequest> out;
    std::string line;
    uint32_t lineNo = 0;
    bool header = false;
    bool tooLong = false;
    while (ReadBoundedLine(in, line, MAX_TRACE_LINE_BYTES, tooLong))
    {
        ++lineNo;
        const std::string where = path + ":" + std::to_string(lineNo) + ": ";
        if (tooLong)
        {
            throw std::runtime_error(where + "line longer than " +
                                     std::to_string(MAX_TRACE_LINE_BYTES) +
                                     " bytes (is this a request trace?)");
        }
        const std::string t = Trim(line);
        if (t.empty() || t[0] == '#')
        {
            continue;
        }
        // Split at every comma, keeping empty fields (a trailing comma is a fifth, empty one).
        std::vector<std::string> f;
        size_t from = 0;
        for (;;)
        {
            const size_t comma = t.find(',', from);
            f.push_back(Trim(t.substr(from, comma == std::string::npos ? comma : comma - from)));
            if (comma == std::string::npos)
            {
                break;
            }
            from = comma + 1;
        }
        if (!header)
        {
            if (f !=
                std::vector<std::string>{"arrival_s", "class", "prompt_tokens", "output_tokens"})
            {
                throw std::runtime_error(
                    where + "expected the header arrival_s,class,prompt_tokens,output_tokens");
            }
            header = true;
            continue;
        }
        if (f.size() != 4)
        {
            throw std::runtime_error(where + "expected 4 fields, got " + std::to_string(f.size()));
        }
        ServingRequest r;
        if (!ParseSecondsPs(f[0], r.arrivalPs))
        {
            throw std::runtime_error(where + "arrival_s '" + f[0] +
                                     "' is not a decimal number of seconds (at most 12 "
                                     "fractional digits, below 10^6 s)");
        }
        if (!out.empty() && r.arrivalPs < out.back().arrivalPs)
        {
            throw std::runtime_error(where + "arrival_s goes backwards; rows must be sorted");
        }
        auto it = std::find_if(classes.begin(), classes.end(), [&](const ServingClassSpec& c) {
            return c.name == f[1];
        });
        if (it == classes.end())
        {
            throw std::runtime_error(where + "class '" + f[1] +
                                     "' is not one of workload.serving.classes");
        }
        r.cls = static_cast<uint32_t>(it - classes.begin());
        for (int k = 2; k < 4; ++k)
        {
            char* end = nullptr;
            const unsigned long v = std::strtoul(f[k].c_str(), &end, 10);
            if (f[k].empty() || *end != '\0' || f[k][0] == '-' || v < 1 || v > (1u << 20))
            {
                throw std::runtime_error(where + (k == 2 ? "prompt_tokens" : "output_tokens") +
                                         " '" + f[k] + "'; accepted: an integer in 1..1048576");
            }
            (k == 2 ? r.promptTokens : r.outputTokens) = static_cast<uint32_t>(v);
        }
        if (horizonPs > 0 && r.arrivalPs > horizonPs)
        {
            break;
        }
        r.id = static_cast<uint32_t>(out.size());
        out.push_back(r);
    }
    if (!header)
    {
        throw std::runtime_error(path + ": empty request trace (no header)");
    }
    if (out.empty())
    {
        throw std::runtime_error(path + ": the request trace has no request" +
                                 (horizonPs > 0 ? " before workload.serving.horizon" : ""));
    }
    return out;
}

} // namespace moe
} // namespace ns3
