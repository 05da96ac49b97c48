/*
 * moe-fabric: the error every configuration problem is reported with.
 */
#ifndef MOE_FABRIC_CONFIG_ERROR_H
#define MOE_FABRIC_CONFIG_ERROR_H

#include <stdexcept>
#include <string>

namespace ns3
{
namespace moe
{

/**
 * @brief A configuration value is missing, of the wrong type, or impossible.
 *
 * what() reads "<path>: <problem>; <accepted values>", where path is the JSON path of the field
 * (e.g. "topology.k") or the helper setting it came from. The CLI prints it and exits with 2.
 */
class ConfigError : public std::runtime_error
{
  public:
    ConfigError(const std::string& path, const std::string& message)
        : std::runtime_error(Printable(path.empty() ? message : path + ": " + message)),
          m_path(path)
    {
    }

    /// @brief JSON path (or setting name) of the offending field.
    const std::string& GetPath() const
    {
        return m_path;
    }

  private:
    /// Control characters other than newline and tab (which a message may quote from a JSON
    /// string) written as \u00XX: a NUL would end what() early and drop the accepted values.
    static std::string Printable(const std::string& text)
    {
        static const char* const HEX = "0123456789abcdef";
        std::string out;
        out.reserve(text.size());
        for (const char c : text)
        {
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 && c != '\n' && c != '\t')
            {
                out += "\\u00";
                out += HEX[u >> 4];
                out += HEX[u & 0xf];
            }
            else
            {
                out += c;
            }
        }
        return out;
    }

    std::string m_path;
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_CONFIG_ERROR_H
