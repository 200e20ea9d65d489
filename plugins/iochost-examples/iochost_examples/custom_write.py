"""A putter with a side effect: every value written to A or B also lands in a file.

The file is ``<directory>/<PV attribute>``, where ``directory`` is itself a PV (a long
string, so read it as ``custom_write:directory.$`` or with ``report_as_string``).
"""
import pathlib
import tempfile

from iochost import PVGroup, ioc_arg_parser, pvproperty, run


class CustomWrite(PVGroup):
    """Writes to A and B are also written, as text, to files named A and B in `directory`."""

    async def write_to_file(self, instance, value):
        path = pathlib.Path(self.directory.value) / instance.pvspec.attr
        path.write_text(f"{value}\n")
        self.log.info("wrote %s to %s", value, path)
        return value

    directory = pvproperty(value=tempfile.gettempdir(), doc="The directory to write files to",
                           string_encoding="utf-8", report_as_string=True, max_length=255)
    A = pvproperty(put=write_to_file, value=0, doc="Also written to <directory>/A")
    B = pvproperty(put=write_to_file, value=0, doc="Also written to <directory>/B")


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="custom_write:",
                                              desc=CustomWrite.__doc__)
    run(CustomWrite(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()
