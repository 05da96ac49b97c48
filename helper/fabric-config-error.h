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
        : std::runtime_error(path.empty() ? message : path + ": " + message),
          m_path(path)
    {
    }

    /// @brief JSON path (or setting name) of the offending field.
    const std::string& GetPath() const
    {
        return m_path;
    }

  private:
    std::string m_path;
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_CONFIG_ERROR_H
