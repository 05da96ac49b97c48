/*
 * moe-fabric: a switch buffer split into independent partitions (pipelines / port groups).
 */
#ifndef MOE_PARTITIONED_BUFFER_MMU_H
#define MOE_PARTITIONED_BUFFER_MMU_H

#include "fabric-admission.h"
#include "shared-buffer-mmu.h"

#include "ns3/object-factory.h"
#include "ns3/traced-callback.h"

#include <vector>

namespace ns3
{
namespace moe
{

class FabricSwitch;

/**
 * @brief A switch buffer split into Partitions independent shared-buffer MMUs, each serving the
 * frames that entered through one contiguous group of ports, as switch chips split their packet
 * memory between ingress pipelines (a Broadcom Tomahawk's "XPEs" or "ITMs").
 *
 * Ports 0..N-1 form Partitions groups of about N / Partitions consecutive ports; a frame is
 * buffered -- admitted, thresholded, marked, released -- by the partition of its ingress port
 * (frames the switch generates itself: of their egress port). Each partition is a complete
 * SharedBufferMmu built from the factory given to SetPartitionFactory() with BufferSize divided
 * by Partitions, so everything it does applies per partition: the dynamic threshold of a queue
 * is alpha x the free cells of *its partition's* pool (one congested queue fed through one
 * pipeline can take at most alpha / (1 + alpha) of 1 / Partitions of the chip), ECN is decided
 * on the queue's bytes in that partition, and a lossless (port, priority) lives in its ingress
 * partition. Reserves and headroom are carved in every partition for every port (an egress
 * queue can receive from any pipeline). A lossless (port, priority) lives in its ingress
 * partition only, which alone asks for its pauses.
 */
class PartitionedBufferMmu : public FabricAdmission
{
  public:
    static TypeId GetTypeId();
    PartitionedBufferMmu();

    /// @brief What each partition is: a SharedBufferMmu factory with its attributes.
    void SetPartitionFactory(const ObjectFactory& factory);

    void Initialize(uint32_t numPorts) override;
    bool Admit(QueueEntry& entry, uint32_t outPort, DropReason& reason) override;
    void Release(QueueEntry& entry, uint32_t outPort) override;
    void Discard(QueueEntry& entry, uint32_t outPort) override;

    /// @brief Seed each partition's ECN generator from @p seed.
    void SetSeed(uint64_t seed);
    /// @brief SharedBufferMmu::ConfigurePorts on every partition; "" or the first problem.
    std::string ConfigurePorts(Ptr<FabricSwitch> sw);
    /// @brief Where the combined pause requests go (as SharedBufferMmu::SetPauseCallback).
    void SetPauseCallback(SharedBufferMmu::PauseCallback cb);

    uint32_t GetNPartitions() const;
    Ptr<SharedBufferMmu> GetPartition(uint32_t i) const;
    /// @brief The partition buffering frames that entered through @p inPort.
    uint32_t GetPartitionOf(uint32_t inPort) const;

    /// @brief Cells in use over all partitions, and the largest such sum seen.
    uint64_t GetUsedCells() const;
    uint64_t GetPeakUsedCells() const;
    uint64_t GetPoolBytes(SharedBufferMmu::Pool pool) const;
    uint64_t GetEcnMarks(uint32_t port) const;
    uint64_t GetDrops(DropReason reason) const;
    bool IsPauseRequested(uint32_t port, uint8_t priority) const;
    /// @brief "" when every partition's accounting is back to zero, else the first problem.
    std::string CheckAccounting() const;

  protected:
    void DoDispose() override;

  private:
    void OnPartitionPause(uint32_t port, uint8_t priority, bool pause);
    SharedBufferMmu& PartitionFor(const QueueEntry& entry, uint32_t outPort);
    void NotePeak();

    uint32_t m_partitions{2};
    ObjectFactory m_factory;
    std::vector<Ptr<SharedBufferMmu>> m_parts;
    std::vector<uint32_t> m_partOfPort;
    uint64_t m_usedCells{0};
    uint64_t m_peakUsedCells{0};
    SharedBufferMmu::PauseCallback m_pauseCallback;
    TracedCallback<uint32_t, uint8_t, bool> m_pauseTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_PARTITIONED_BUFFER_MMU_H
