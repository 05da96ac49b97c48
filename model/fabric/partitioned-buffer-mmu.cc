#include "partitioned-buffer-mmu.h"

#include "fabric-hash.h"
#include "fabric-switch.h"

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/uinteger.h"

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("PartitionedBufferMmu");

NS_OBJECT_ENSURE_REGISTERED(PartitionedBufferMmu);

TypeId
PartitionedBufferMmu::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::PartitionedBufferMmu")
            .SetParent<FabricAdmission>()
            .SetGroupName("MoeFabric")
            .AddConstructor<PartitionedBufferMmu>()
            .AddAttribute("Partitions",
                          "Independent buffer partitions, each serving a contiguous group of "
                          "ingress ports with BufferSize / Partitions of the chip's memory.",
                          UintegerValue(2),
                          MakeUintegerAccessor(&PartitionedBufferMmu::m_partitions),
                          MakeUintegerChecker<uint32_t>(1, 64))
            .AddTraceSource("PauseRequest",
                            "The combined request to pause (true) or resume (false) lossless "
                            "priority on an ingress port: (port, priority, pause).",
                            MakeTraceSourceAccessor(&PartitionedBufferMmu::m_pauseTrace),
                            "ns3::moe::SharedBufferMmu::PauseRequestTracedCallback");
    return tid;
}

PartitionedBufferMmu::PartitionedBufferMmu()
{
    m_factory.SetTypeId(SharedBufferMmu::GetTypeId());
}

void
PartitionedBufferMmu::SetPartitionFactory(const ObjectFactory& factory)
{
    m_factory = factory;
}

void
PartitionedBufferMmu::DoDispose()
{
    m_parts.clear();
    m_pauseCallback = SharedBufferMmu::PauseCallback();
    FabricAdmission::DoDispose();
}

void
PartitionedBufferMmu::Initialize(uint32_t numPorts)
{
    NS_ABORT_MSG_IF(!m_parts.empty(), "PartitionedBufferMmu: Initialize called twice");
    NS_ABORT_MSG_IF(numPorts == 0, "PartitionedBufferMmu: a switch without ports");
    const uint32_t parts = std::min(m_partitions, numPorts);
    for (uint32_t i = 0; i < parts; ++i)
    {
        Ptr<SharedBufferMmu> mmu = m_factory.Create<SharedBufferMmu>();
        UintegerValue size;
        mmu->GetAttribute("BufferSize", size);
        mmu->SetAttribute("BufferSize", UintegerValue(size.Get() / parts));
        mmu->SetPauseCallback(MakeCallback(&PartitionedBufferMmu::OnPartitionPause, this));
        mmu->Initialize(numPorts);
        m_parts.push_back(mmu);
    }
    m_partOfPort.resize(numPorts);
    for (uint32_t port = 0; port < numPorts; ++port)
    {
        m_partOfPort[port] = static_cast<uint32_t>(static_cast<uint64_t>(port) * parts / numPorts);
    }
}

SharedBufferMmu&
PartitionedBufferMmu::PartitionFor(const QueueEntry& entry, uint32_t outPort)
{
    const uint32_t port = entry.inPort == LOCAL_PORT ? outPort : entry.inPort;
    return *m_parts[m_partOfPort[port]];
}

void
PartitionedBufferMmu::NotePeak()
{
    m_peakUsedCells = std::max(m_peakUsedCells, m_usedCells);
}

bool
PartitionedBufferMmu::Admit(QueueEntry& entry, uint32_t outPort, DropReason& reason)
{
    SharedBufferMmu& mmu = PartitionFor(entry, outPort);
    const uint64_t before = mmu.GetUsedCells();
    if (!mmu.Admit(entry, outPort, reason))
    {
        return false;
    }
    m_usedCells += mmu.GetUsedCells() - before;
    NotePeak();
    return true;
}

void
PartitionedBufferMmu::Release(QueueEntry& entry, uint32_t outPort)
{
    SharedBufferMmu& mmu = PartitionFor(entry, outPort);
    const uint64_t before = mmu.GetUsedCells();
    mmu.Release(entry, outPort);
    m_usedCells -= before - mmu.GetUsedCells();
}

void
PartitionedBufferMmu::Discard(QueueEntry& entry, uint32_t outPort)
{
    SharedBufferMmu& mmu = PartitionFor(entry, outPort);
    const uint64_t before = mmu.GetUsedCells();
    mmu.Discard(entry, outPort);
    m_usedCells -= before - mmu.GetUsedCells();
}

void
PartitionedBufferMmu::SetSeed(uint64_t seed)
{
    for (uint32_t i = 0; i < m_parts.size(); ++i)
    {
        m_parts[i]->SetAttribute("Seed", UintegerValue(Mix64(seed ^ (i + 1))));
    }
}

std::string
PartitionedBufferMmu::ConfigurePorts(Ptr<FabricSwitch> sw)
{
    for (uint32_t i = 0; i < m_parts.size(); ++i)
    {
        const std::string problem = m_parts[i]->ConfigurePorts(sw);
        if (!problem.empty())
        {
            return "partition " + std::to_string(i) + ": " + problem;
        }
    }
    return "";
}

void
PartitionedBufferMmu::SetPauseCallback(SharedBufferMmu::PauseCallback cb)
{
    m_pauseCallback = cb;
}

void
PartitionedBufferMmu::OnPartitionPause(uint32_t port, uint8_t priority, bool pause)
{
    // A lossless (port, priority) is accounted only in its ingress partition, so that
    // partition's requests are the switch's.
    m_pauseTrace(port, priority, pause);
    if (!m_pauseCallback.IsNull())
    {
        m_pauseCallback(port, priority, pause);
    }
}

uint32_t
PartitionedBufferMmu::GetNPartitions() const
{
    return static_cast<uint32_t>(m_parts.size());
}

Ptr<SharedBufferMmu>
PartitionedBufferMmu::GetPartition(uint32_t i) const
{
    return m_parts.at(i);
}

uint32_t
PartitionedBufferMmu::GetPartitionOf(uint32_t inPort) const
{
    return m_partOfPort.at(inPort);
}

uint64_t
PartitionedBufferMmu::GetUsedCells() const
{
    return m_usedCells;
}

uint64_t
PartitionedBufferMmu::GetPeakUsedCells() const
{
    return m_peakUsedCells;
}

uint64_t
PartitionedBufferMmu::GetPoolBytes(SharedBufferMmu::Pool pool) const
{
    uint64_t total = 0;
    for (const auto& mmu : m_parts)
    {
        total += mmu->GetPoolBytes(pool);
    }
    return total;
}

uint64_t
PartitionedBufferMmu::GetEcnMarks(uint32_t port) const
{
    uint64_t total = 0;
    for (const auto& mmu : m_parts)
    {
        total += mmu->GetEcnMarks(port);
    }
    return total;
}

uint64_t
PartitionedBufferMmu::GetDrops(DropReason reason) const
{
    uint64_t total = 0;
    for (const auto& mmu : m_parts)
    {
        total += mmu->GetDrops(reason);
    }
    return total;
}

bool
PartitionedBufferMmu::IsPauseRequested(uint32_t port, uint8_t priority) const
{
    return m_parts[m_partOfPort.at(port)]->IsPauseRequested(port, priority);
}

std::string
PartitionedBufferMmu::CheckAccounting() const
{
    for (uint32_t i = 0; i < m_parts.size(); ++i)
    {
        const std::string problem = m_parts[i]->CheckAccounting();
        if (!problem.empty())
        {
            return "partition " + std::to_string(i) + ": " + problem;
        }
    }
    if (m_usedCells != 0)
    {
        return std::to_string(m_usedCells) + " cells still counted in use";
    }
    return "";
}

} // namespace moe
} // namespace ns3
