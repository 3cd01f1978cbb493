"""Reading what users give, below every interface: media files (`media`: audio, images, lyrics
text), the one lyrics normaliser (`lyrics_text`) and walking input files and folders for
`embed` (`walk`). Imports nothing else of ugaar-kit but `ugaar_kit.errors`."""
