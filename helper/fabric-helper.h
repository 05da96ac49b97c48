/*
 * moe-fabric: turns a TopologySpec into a running fabric.
 */
#ifndef MOE_FABRIC_HELPER_H
#define MOE_FABRIC_HELPER_H

#include "ns3/fabric-topology.h"
#include "ns3/object-factory.h"
#include "ns3/trace-helper.h"

#include <string>

namespace ns3
{
namespace moe
{

/**
 * @brief Builds nodes, FabricNetDevices, FabricChannels, switches, hosts and routes from a
 * TopologySpec, and enables PCAP on fabric devices.
 *
 * Also owns the simulator's time resolution: Install() switches it to picoseconds (before any
 * event runs) and refuses to build a fabric on a coarser resolution.
 *
 * @code
 *   FatTreeHelper fatTree;
 *   fatTree.SetK(4);
 *   FabricHelper fabric;
 *   fabric.SetSwitchAttribute("LoadBalancing", StringValue("spray"));
 *   Ptr<FabricTopology> topo = fabric.Install(fatTree.Build());
 *   fabric.EnablePcap("moe", topo->GetHostNodes());
 * @endcode
 */
class FabricHelper : public PcapHelperForDevice
{
  public:
    FabricHelper();
    ~FabricHelper() override;

    /// @brief Attribute applied to every FabricSwitch (e.g. "LoadBalancing").
    void SetSwitchAttribute(const std::string& name, const AttributeValue& value);
    /// @brief Attribute applied to every FabricNetDevice (e.g. "Mtu"); DataRate comes from the
    /// spec and cannot be overridden here.
    void SetDeviceAttribute(const std::string& name, const AttributeValue& value);
    /// @brief Admission type and attributes for switch egress queues (default TailDropAdmission).
    void SetSwitchAdmission(const std::string& type);
    void SetSwitchAdmissionAttribute(const std::string& name, const AttributeValue& value);
    /**
     * @brief Split every fabric switch's shared buffer into @p partitions independent ones
     * (PartitionedBufferMmu), each built from the switch admission's type and attributes with
     * BufferSize / @p partitions. 1 (the default) keeps one buffer per switch. Requires the
     * switch admission to be ns3::moe::SharedBufferMmu.
     */
    void SetSwitchBufferPartitions(uint32_t partitions);
    /// @brief Admission for NVSwitches (default: TailDropAdmission with no limit -- lossless).
    void SetNvSwitchAdmissionAttribute(const std::string& name, const AttributeValue& value);
    /// @brief Admission for hosts' own egress queues (relayed and control frames).
    void SetHostAdmissionAttribute(const std::string& name, const AttributeValue& value);
    /// @brief Seed mixed into every switch's HashSeed (switch i gets Mix64(seed, i)).
    void SetSeed(uint64_t seed);

    /// @brief Build the fabric described by @p spec. Throws ConfigError if it is impossible.
    Ptr<FabricTopology> Install(const TopologySpec& spec);

    /**
     * @brief Make the simulator's time resolution picoseconds.
     *
     * Must run before simulation events exist; calling it again is harmless. Aborts with a clear
     * message if the resolution was already set to something else and can no longer change.
     */
    static void EnsurePicosecondResolution();

    /**
     * @brief Back malloc's memory with transparent huge pages for the rest of the program, by
     * re-executing it once with glibc's tunable glibc.malloc.hugetlb=1 (glibc >= 2.35).
     *
     * Large fabrics (a k=16 fat-tree with a million active queue pairs) spend a large share of
     * their time on TLB misses over hundreds of MB of scattered per-port, per-queue-pair and
     * per-packet state; 2 MB pages cut the k=16 benchmark's wall time by about a fifth (see the
     * benchmark chapter of doc/moe-fabric.rst). glibc reads tunables only when a program starts,
     * hence the re-execution. Call it first thing in main(), before anything else runs: on
     * success it does not return (the program starts again with the same arguments).
     *
     * It returns without re-executing, and says why in the returned text, when the environment
     * variable MOE_FABRIC_HUGE_PAGES is "0" (the user's switch), in the re-executed program
     * itself, when GLIBC_TUNABLES already names glibc.malloc.hugetlb, when the kernel's
     * transparent huge pages are "never" or "always" (nothing to gain), under valgrind (which
     * would not follow the re-execution), when the program was started through the loader
     * ("ld.so PROGRAM", where /proc/self/exe is the loader), or when the re-execution fails.
     * Outputs do not depend on it; only speed and memory layout do.
     */
    static std::string ReexecWithHugePages(char* argv[]);

    /// @brief One line describing whether malloc uses transparent huge pages in this process
    /// and why (for --dry-run and logs).
    static std::string DescribeHugePages();

    /// @brief Check a spec for impossible content (dangling links, zero rates...).
    static void Validate(const TopologySpec& spec);

  private:
    void EnablePcapInternal(std::string prefix,
                            Ptr<NetDevice> nd,
                            bool promiscuous,
                            bool explicitFilename) override;

    ObjectFactory m_switchFactory;
    ObjectFactory m_deviceFactory;
    ObjectFactory m_channelFactory;
    ObjectFactory m_switchAdmission;
    ObjectFactory m_nvSwitchAdmission;
    ObjectFactory m_hostAdmission;
    uint32_t m_bufferPartitions{1};
    uint64_t m_seed{1};
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_HELPER_H
