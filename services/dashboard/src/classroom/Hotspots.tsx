/** Error hotspots: the cells and the error names with the most errors, ranked. */
import type { UseQueryResult } from "@tanstack/react-query";
import { ListStatus } from "../ui/Feedback";
import { cellNumber } from "./heatmap";
import type { ClassHotspots } from "./types";

export function Hotspots({ query }: { query: UseQueryResult<ClassHotspots> }) {
  const data = query.data;
  return (
    <div className="hotspots" data-testid="hotspots">
      <ListStatus query={query} what="error hotspots" />
      {data && data.cells.length === 0 && data.errors.length === 0 && <p className="hint">No errors so far.</p>}
      {data && data.cells.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption>Cells with the most errors</caption>
            <thead>
              <tr>
                <th scope="col">Rank</th>
                <th scope="col">Cell</th>
                <th scope="col">Errors</th>
                <th scope="col">Students</th>
              </tr>
            </thead>
            <tbody>
              {data.cells.map((cell, i) => (
                <tr key={`${cell.cell_index}:${cell.cell_id}`}>
                  <td>{i + 1}</td>
                  <th scope="row">Cell {cellNumber(cell.cell_index)}</th>
                  <td>{cell.errors}</td>
                  <td>{cell.students}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && data.errors.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption>Most frequent errors</caption>
            <thead>
              <tr>
                <th scope="col">Rank</th>
                <th scope="col">Error</th>
                <th scope="col">Errors</th>
                <th scope="col">Students</th>
              </tr>
            </thead>
            <tbody>
              {data.errors.map((error, i) => (
                <tr key={error.error_name}>
                  <td>{i + 1}</td>
                  <th scope="row">
                    <code>{error.error_name}</code>
                  </th>
                  <td>{error.errors}</td>
                  <td>{error.students}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
