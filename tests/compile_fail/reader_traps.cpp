// Traps the reader's API closes at compile time (issue 9; the ones closed by behaviour are in
// tests/test_reader.cpp). tests/CMakeLists.txt compiles this file once as the control, where
// every line must compile (so a test cannot pass because, say, an include path is wrong), and
// once per trap with -DTRAP_<name>, which must fail with the diagnostic the test names.
#include <imgpack/reader.hpp>

void control_and_trap(const imgpack::Pack& pack) {
    // The control: the right way to do what each trap tries.
    imgpack::Pack opened = imgpack::Pack::open("p.imgpack");
    imgpack::Split split = pack.split("train");
    imgpack::Subset subset = opened.subset("1pct");
    imgpack::Split::iterator it = split.begin();
    imgpack::Subset::iterator sit = subset.begin();
    for (imgpack::Record r : imgpack::Pack::open("p.imgpack").split("train")) (void)r;
    for (const imgpack::ClassInfo& c : pack.classes()) (void)c;
    (void)pack.sections();
    (void)pack.verify_section(0);
    const imgpack::Split* pointer = &split;
    (void)it, (void)sit, (void)pointer;

#if defined(TRAP_default_pack)
    imgpack::Pack empty;  // issue 9: `Pack p; p.splits();` dereferenced null
#elif defined(TRAP_default_split)
    imgpack::Split empty;
#elif defined(TRAP_made_up_section)
    // Issue 9: verify_section hashed any offset and length a caller made up.
    (void)pack.verify_section(imgpack::SectionInfo{5, 0, 0, uint64_t(1) << 40, 0, true});
#elif defined(TRAP_begin_of_temporary)
    auto dangling = pack.split("train").begin();  // the Split dies at the semicolon
    (void)dangling;
#elif defined(TRAP_classes_of_temporary_pack)
    for (const imgpack::ClassInfo& c : imgpack::Pack::open("p.imgpack").classes()) (void)c;
#elif defined(TRAP_sections_of_temporary_pack)
    auto sections = imgpack::Pack::open("p.imgpack").sections();
    (void)sections;
#elif defined(TRAP_address_of_temporary_split)
    const imgpack::Split* dangling = &pack.split("train");  // how the tool once kept a split
    (void)dangling;
#endif
}
