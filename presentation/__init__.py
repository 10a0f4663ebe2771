"""How figures look wherever they are shown: the number formatters, the colours, and the plotly
charts that the pages and the downloadable reports share, so one figure reads and looks the same
on a page, in a report and in the API's report files. Plotly only; no Dash, no backend."""
