package scm

// tagInfoNameFromTag is TAG_INFO_NAME_FROM_TAG (undocumented; layout from
// System Informer's phnt/include/subprocesstag.h): 24 bytes on amd64 and
// arm64 (padding before the pointer), 16 on 386. Name is allocated by the
// system and freed with LocalFree.
type tagInfoNameFromTag struct {
	PID, Tag uint32 // InParams
	TagType  uint32 // OutParams.eTagType: 1 = service
	Name     *uint16
}

// tagInfoLevelNameFromTag is eTagInfoLevelNameFromTag of TAG_INFO_LEVEL.
const tagInfoLevelNameFromTag = 1

// I_QueryTagInformation is looked up in advapi32.dll only: Windows 8 and
// later forward it to sechost.dll, but Wine's sechost.dll export is a stub
// that aborts the process, and advapi32.dll under Wine 8 has none. It
// returns a Win32 error code.
//sys	queryTagInformation(machine *uint16, level uint32, info *tagInfoNameFromTag) (ret error) = advapi32.I_QueryTagInformation?
