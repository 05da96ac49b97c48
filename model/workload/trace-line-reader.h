/*
 * moe-fabric: reading input trace files line by line with a bound on the line length.
 */
#ifndef MOE_TRACE_LINE_READER_H
#define MOE_TRACE_LINE_READER_H

#include <cstddef>
#include <istream>
#include <string>

namespace ns3
{
namespace moe
{

/// Longest line the trace readers accept (a routing trace line lists one token's experts, a
/// request trace line one request: a few hundred bytes at most).
constexpr std::size_t MAX_TRACE_LINE_BYTES = 1 << 20;

/**
 * @brief Read the next line of @p in into @p line (without its '\n'), as std::getline does,
 * but stop once it exceeds @p maxBytes and set @p tooLong: a file without newlines (or a
 * device such as /dev/zero given as a trace) must not be read into memory whole.
 * @return false at the end of the input with nothing read.
 */
inline bool
ReadBoundedLine(std::istream& in, std::string& line, std::size_t maxBytes, bool& tooLong)
{
    line.clear();
    tooLong = false;
    std::streambuf* buf = in.rdbuf();
    bool any = false;
    for (;;)
    {
        const int c = buf->sbumpc();
        if (c == std::char_traits<char>::eof())
        {
            in.setstate(std::ios::eofbit);
            return any;
        }
        any = true;
        if (c == '\n')
        {
            return true;
        }
        if (line.size() >= maxBytes)
        {
            tooLong = true;
            return true;
        }
        line.push_back(static_cast<char>(c));
    }
}

} // namespace moe
} // namespace ns3

#endif // MOE_TRACE_LINE_READER_H
