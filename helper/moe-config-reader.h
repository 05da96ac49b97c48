/*
 * moe-fabric: the validation layer of the scenario JSON. Turns a parsed document into typed,
 * range-checked values, reports every problem as a ConfigError naming the JSON path and what is
 * accepted, and records the normalized effective configuration.
 */
#ifndef MOE_CONFIG_READER_H
#define MOE_CONFIG_READER_H

#include "fabric-config-error.h"

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief The JSON value type of scenario files and of the effective config.
 *
 * nlohmann::json (objects are std::map, keys sorted) rather than ordered_json, on purpose:
 *  - the effective config is canonical: its bytes depend only on the values, not on the order in
 *    which the input spelled keys (arrays are copied verbatim, objects inside them included) nor
 *    on the order in which the code happens to read them, so the config hash in the run manifest
 *    survives harmless refactors and reordered input files;
 *  - std::map nodes never move, so a ConfigReader can keep a pointer to its object in the
 *    effective tree while siblings are inserted (ordered_json's vector would invalidate it).
 */
using Json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Units. Grammar shared by the three parsers: optional surrounding whitespace, a decimal number
// (digits, optionally '.' and more digits; no sign, no exponent, at most 19 significant
// fraction digits), optional spaces, a unit. The value must come out as a whole number of the
// base unit (bit/s, ps, bytes); "1.5us" is fine, "0.5ps" is not. Units are case-sensitive
// except that the kilo prefix may be written k or K.
// ---------------------------------------------------------------------------------------------

/**
 * @brief Parse a data rate in bit/s.
 *
 * Units: bps, kbps (or Kbps), Mbps, Gbps, Tbps (powers of 1000) and ns-3's spellings b/s, kb/s,
 * Kb/s, Mb/s, Gb/s, Tb/s. Examples: "100Gbps", "400Gb/s", "1.6Tbps", "25000Mbps", "10bps".
 * Rejected, with ConfigError(path, ...) listing the accepted units: a bare number, unknown units,
 * byte units ("GBps": the message explains that B means bytes), negative or zero rates, rates
 * that are not a whole number of bit/s ("1.5bps") and rates above 2^64-1 bit/s.
 */
uint64_t ParseRate(const std::string& text, const std::string& path);

/**
 * @brief Parse a duration into picoseconds.
 *
 * Units: ps, ns, us, ms, s; the micro sign is also accepted as "µs" (U+00B5) and "μs" (U+03BC),
 * since that is how people write it (FormatTimePs always writes "us"). "0" (any spelling of zero)
 * needs no unit; any other bare number is rejected. Examples: "1us", "500ns", "1.5us", "250ps",
 * "2ms", "1s", "0". Rejected with ConfigError(path, ...): negative times, units such as "sec" or
 * "fs", non-whole picoseconds ("0.5ps"), values above 2^63-1 ps (about 106 days).
 */
int64_t ParseTimePs(const std::string& text, const std::string& path);

/**
 * @brief Parse a size in bytes.
 *
 * A JSON non-negative integer, or a string: a bare number ("4096") or a number followed by B,
 * kB (or KB), MB, GB, TB (powers of 1000: "4KB" = 4000) or KiB, MiB, GiB, TiB (powers of 1024:
 * "4KiB" = 4096), e.g. "512B", "1.5KiB" (= 1536). Rejected with ConfigError(path, ...): negative
 * numbers, floats ("4.5"), other JSON types, bit units ("4Kb": b means bits), non-whole byte
 * counts and values above 2^64-1.
 */
uint64_t ParseBytes(const Json& value, const std::string& path);

/**
 * @brief Shortest exact text of a duration: the largest of s, ms, us, ns, ps that divides it,
 * with an integer count ("1us" for 1000000, "1500ps" for 1500, "-2ms"); zero is "0ps".
 * ParseTimePs(FormatTimePs(x)) == x for every x >= 0.
 */
std::string FormatTimePs(int64_t ps);

/**
 * @brief Shortest exact text of a rate: the largest of Tbps, Gbps, Mbps, kbps, bps that divides
 * it, with an integer count ("100Gbps", "1600Gbps" for 1.6 Tb/s, "1500kbps"); zero is "0bps".
 * ParseRate(FormatRate(x)) == x for every x > 0.
 */
std::string FormatRate(uint64_t bps);

// ---------------------------------------------------------------------------------------------
// Documents and overrides.
// ---------------------------------------------------------------------------------------------

/**
 * @brief Parse JSON text strictly (RFC 8259: no comments, no trailing commas).
 *
 * Errors are ConfigError(source, "line L, column C: <parser message>") with 1-based line and
 * byte column; a number too large for a double gives ConfigError(source, "number overflow ...").
 * A key repeated within one object (which plain JSON parsers silently resolve to the last
 * occurrence) is an error too: ConfigError(source, "duplicate key <json path>; ...").
 */
Json ParseJsonText(const std::string& text, const std::string& source);

/**
 * @brief Read and parse a JSON file with ParseJsonText (source = @p filePath).
 *
 * ConfigError(filePath, "cannot open file (<reason>)") if it cannot be opened,
 * ConfigError(filePath, "cannot read file (<reason>)") if reading fails (e.g. a directory). The
 * content must be UTF-8 (a leading byte-order mark is skipped). The top-level value
 * may be of any JSON type; a ConfigReader over it checks that it is an object.
 */
Json LoadJsonFile(const std::string& filePath);

/**
 * @brief Apply one command-line override "a.b.c=value" to @p config.
 *
 * The text left of the first '=' is a path of keys separated by '.'; each key may be followed by
 * array indices in brackets, exactly as error messages print paths ("traffic.matrix[3][2]=5"),
 * so a path can be copied from an error message. A numeric segment ("a.b.2") is an object key,
 * never an index. Missing objects along the path are created (an empty or null @p config becomes
 * an object); arrays are never created or grown: an index must name an existing element.
 * The final key is replaced whatever it held (objects are replaced, not merged).
 *
 * The value is parsed as JSON when it parses (numbers, true/false, null, quoted strings, objects,
 * arrays), otherwise taken as a plain string ("topology.type=leaf-spine"). A value starting with
 * '{', '[' or '"' must be valid JSON (else an error with the parser's line and column), so a
 * mistyped array never silently becomes a string. Note JSON is case-sensitive: "True" is a
 * string.
 *
 * Every problem (no '=', empty path, empty key, bad brackets, a path through a non-object,
 * an index out of range, text that is not UTF-8) throws ConfigError("--set", "\"<assignment>\":
 * <problem>; expected --set=a.b.c=value ..."), and @p config is then left unchanged. Keys are
 * taken literally (no trimming); whether a key is known is checked later, by ConfigReader.
 */
void ApplySetOverride(Json& config, const std::string& assignment);

/**
 * @brief Apply one command-line removal "a.b.c" to @p config: the key is deleted, so the
 * scenario falls back to its default (or, for a section, to no section).
 *
 * The path is written as for ApplySetOverride (keys joined by '.', array indices in brackets to
 * reach into arrays); its last part must be a key, not an array element. Meant for --rerun,
 * whose recorded configuration has every default filled in: switching a type needs the old
 * type's keys gone first ("--unset=transport --set=transport.type=ideal").
 *
 * A path that does not exist (the message lists the keys that do), a path through a non-object
 * or a missing array element, a final array index, an '=' in the path or text that is not UTF-8
 * throws ConfigError("--unset", "\"<path>\": <problem>; expected --unset=a.b.c ..."), and
 * @p config is then left unchanged.
 */
void ApplyUnsetOverride(Json& config, const std::string& path);

// ---------------------------------------------------------------------------------------------
// Validating single values (what ConfigReader's getters use; call them directly to validate the
// elements of arrays, with paths made by IndexPath / ConfigReader::ElementPath).
// ---------------------------------------------------------------------------------------------

/**
 * @brief How a value is named in messages: "null", "boolean true", "number 4.5",
 * "string \"four\"" (long strings shortened with "..."), "an array", "an object".
 */
std::string DescribeJson(const Json& value);

/// @brief Path of element @p index below @p path: IndexPath("traffic.matrix", 3) is
/// "traffic.matrix[3]".
std::string IndexPath(const std::string& path, std::size_t index);

/// @brief A JSON boolean (not 0/1, not "true"); else ConfigError "expected true or false, got X".
bool ReadJsonBool(const Json& value, const std::string& path);

/**
 * @brief A JSON integer within [min, max]. Floats are rejected even when integral ("4.0", "1e6":
 * the message says to write the integer without a decimal point or exponent), strings too.
 * Out of range: "<v> is out of range; accepted <min>..<max>" (an open end is written as
 * "<min> or more" / "up to <max>"). min > max is a programming error (std::invalid_argument).
 */
int64_t ReadJsonInt(const Json& value, const std::string& path, int64_t min, int64_t max);

/// @brief As ReadJsonInt, for unsigned values (negative integers are out of range).
uint64_t ReadJsonUint(const Json& value, const std::string& path, uint64_t min, uint64_t max);

/**
 * @brief Read element @p i of a JSON list of distinct integers in [@p min, @p max] (priorities,
 * GPU or group ids), given the values read before it; a repeat is a ConfigError at the element:
 * "<noun> <value> is listed twice".
 */
uint64_t ReadDistinctJsonUint(const Json& value,
                              const std::string& path,
                              uint64_t min,
                              uint64_t max,
                              const std::vector<uint64_t>& before,
                              const std::string& noun);

/**
 * @brief A finite JSON number (integers accepted) within [min, max]; NaN and infinities are
 * rejected. Pass +-infinity or +-DBL_MAX for an open end. Bad bounds: std::invalid_argument.
 */
double ReadJsonDouble(const Json& value, const std::string& path, double min, double max);

/// @brief A JSON string (any content, empty included); else "expected a string, got X".
std::string ReadJsonString(const Json& value, const std::string& path);

/**
 * @brief A JSON string equal (case-sensitively) to one of @p accepted; else
 * "\"rr\" is not accepted; accepted values: \"ecmp\", \"spray\"" (with "did you mean ...?" when
 * one accepted value is close). @p accepted must not be empty (std::invalid_argument).
 */
std::string ReadJsonEnum(const Json& value,
                         const std::string& path,
                         const std::vector<std::string>& accepted);

/// @brief A JSON string parsed by ParseRate (a bare JSON number is rejected: units are required).
uint64_t ReadJsonRate(const Json& value, const std::string& path);

/**
 * @brief A JSON string parsed by ParseTimePs, within [minPs, maxPs] (message: "\"5s\" is out of
 * range; accepted 0ps..1ms"). A bare JSON number is rejected: units are required.
 */
int64_t ReadJsonTimePs(const Json& value, const std::string& path, int64_t minPs, int64_t maxPs);

/// @brief ParseBytes within [min, max] ("\"1KiB\" (1024 bytes) is out of range; accepted ...").
uint64_t ReadJsonBytes(const Json& value, const std::string& path, uint64_t min, uint64_t max);

// ---------------------------------------------------------------------------------------------

/**
 * @brief A view of one JSON object at a path that hands out typed, validated fields, records which
 * keys were read so that unknown keys can be reported, and builds the effective config.
 *
 * Rules shared by every getter:
 *  - a missing key yields the default, and the default is recorded in the effective config
 *    (normalized like a read value), so the effective config lists every setting the run used;
 *  - a key that is present but null is an error ("expected an integer, got null"): null never
 *    means "use the default";
 *  - a default that would itself be rejected (out of range, not among the accepted values, an
 *    unparsable unit string) and min > max are programming errors: std::invalid_argument, which
 *    is deliberately not a ConfigError;
 *  - a key may be read more than once; each read validates again and rewrites the same
 *    effective entry (so reading it with different defaults or types is the caller's bug);
 *  - effective values are normalized: integers as JSON integers, doubles as JSON floats, rates
 *    as FormatRate text, times as FormatTimePs text, byte sizes as integer bytes.
 *
 * The reader keeps pointers to the input object and to its effective object; both must outlive
 * it, and an effective entry must not be replaced (SetEffective, GetArray) while a reader made
 * for it (GetObject, GetElementObject) is still in use.
 *
 * Finish() checks only this object's keys; call it on every reader, children included, once all
 * getters have run. Typical use:
 * @code
 *   const Json doc = LoadJsonFile(file); // must outlive the readers
 *   Json effective;
 *   ConfigReader root(doc, "", &effective);
 *   ConfigReader topo = root.GetObject("topology");
 *   uint64_t k = topo.GetUint("k", 4, 2, 128);
 *   topo.Finish();
 *   root.Finish();
 * @endcode
 */
class ConfigReader
{
  public:
    /**
     * @brief View @p obj, found at @p path ("" for the document root).
     *
     * Throws ConfigError(path, "expected an object, got X") if @p obj is not an object (the root
     * is named "(root)" in that message). @p effective (may be nullptr: nothing is recorded) is
     * the node of the effective-config tree to fill; if it is not an object it becomes an empty
     * one, members it already has are kept.
     */
    ConfigReader(const Json& obj, std::string path, Json* effective);

    /// @brief Deleted: the reader keeps a pointer to the object, so a temporary would dangle.
    ConfigReader(Json&& obj, std::string path, Json* effective) = delete;

    /// @brief Whether @p key is present (null counts as present). Does not mark it as read.
    bool Has(const std::string& key) const;
    /// @brief Whether @p key is present and a JSON array (for keys taking a value or a list).
    bool HasArray(const std::string& key) const;

    /// @brief A boolean (JSON true/false only).
    bool GetBool(const std::string& key, bool def);

    /// @brief An integer in [min, max] (rejects 4.5, 4.0 and "4"); see ReadJsonInt.
    int64_t GetInt(const std::string& key, int64_t def, int64_t min, int64_t max);

    /// @brief A non-negative integer in [min, max]; see ReadJsonUint.
    uint64_t GetUint(const std::string& key, uint64_t def, uint64_t min, uint64_t max);

    /// @brief A finite number in [min, max] (integers accepted; recorded as a float).
    double GetDouble(const std::string& key, double def, double min, double max);

    /// @brief Any string.
    std::string GetString(const std::string& key, const std::string& def);

    /// @brief One of @p accepted (case-sensitive); @p def must be one of them.
    std::string GetEnum(const std::string& key,
                        const std::string& def,
                        const std::vector<std::string>& accepted);

    /// @brief A data rate in bit/s (see ParseRate); @p def is rate text such as "100Gbps".
    uint64_t GetRate(const std::string& key, const std::string& def);

    /// @brief A duration in ps within [minPs, maxPs] (see ParseTimePs); @p def is time text.
    int64_t GetTimePs(const std::string& key, const std::string& def, int64_t minPs, int64_t maxPs);

    /// @brief A byte size within [min, max] (see ParseBytes); recorded as integer bytes.
    uint64_t GetBytes(const std::string& key, uint64_t def, uint64_t min, uint64_t max);

    /**
     * @brief A reader for the nested object @p key.
     *
     * Missing: a reader over an empty object, so its getters return (and record) their
     * defaults under @p key in the effective config. Present but not an object (null included):
     * ConfigError. The child has its own Finish().
     */
    ConfigReader GetObject(const std::string& key);

    /**
     * @brief The array @p key, or nullptr if it is missing (nothing is recorded then; use
     * SetEffective to record a default). Not an array (null included): ConfigError.
     *
     * The array is copied verbatim into the effective config; the caller validates the elements
     * (ReadJson* with ElementPath) and may record normalized elements with SetEffective or read
     * object elements with GetElementObject.
     */
    const Json* GetArray(const std::string& key);

    /**
     * @brief A reader for element @p index of the array @p key, which must be an object
     * (else ConfigError at "key[index]").
     *
     * Its effective object is element @p index of the effective copy of the array (made as by
     * GetArray if not made yet), emptied first so that it holds only what the element reader
     * records. The array must not be replaced while the element reader is in use.
     * Precondition: the array exists (GetArray returned non-null) and @p index < its size,
     * else std::invalid_argument; an array of the wrong type is a ConfigError as in GetArray.
     */
    ConfigReader GetElementObject(const std::string& key, std::size_t index);

    /**
     * @brief Record @p value for @p key in the effective config (no-op without one), replacing
     * what was recorded; marks @p key as read. For normalized arrays and caller-side defaults.
     */
    void SetEffective(const std::string& key, Json value);

    /// @brief JSON path of @p key below this object: "topology.link" + "rate" ->
    /// "topology.link.rate"; at the root just "rate".
    std::string PathOf(const std::string& key) const;

    /// @brief Path of element @p index of array @p key: "traffic.matrix[3]".
    std::string ElementPath(const std::string& key, std::size_t index) const;

    /// @brief Path of this object ("" for the root).
    const std::string& GetPath() const;

    /**
     * @brief Throw ConfigError for the first key (in sorted order) that no getter read:
     * "<path>.<key>: unknown key; accepted keys: <sorted keys read so far>" ("none" if nothing
     * was read); "unknown key (did you mean \"x\"?); ..." when a read key is a likely
     * misspelling (case-insensitive edit distance of at most a third of its length, max 3).
     */
    void Finish() const;

  private:
    /// @brief The input value of @p key (nullptr if missing); marks @p key as read.
    const Json* Lookup(const std::string& key);
    /// @brief Record @p value for @p key in the effective config (if any).
    void Record(const std::string& key, Json value);

    const Json* m_obj;            ///< the object viewed (owned by the caller)
    std::string m_path;           ///< JSON path of m_obj, "" for the root
    Json* m_effective;            ///< effective-config node to fill, or nullptr
    std::set<std::string> m_read; ///< keys read so far (sorted: stable messages)
};

} // namespace moe
} // namespace ns3

#endif // MOE_CONFIG_READER_H
