// lpg_store_rows: copies an on-chip row buffer (one node row per word) to a row-major host buffer
// (ap_memory output port, element (n, c) at n*F + c), one element per cycle: num_nodes * F cycles
// plus 3. Used for the model's output. It follows the last aggregation, which writes the buffer in node
// order while this unit runs: row n is copied only once n < rows_ready (the rows written so far).
// ce: the design's clock enable (ce = 0: no register changes; reset still acts); row_re: the row buffer's read
// enable, high in the cycles whose row the unit uses in the next ce-cycle (its steps).
module lpg_store_rows #(
    parameter NW  = 8,
    parameter HAW = 10,
    parameter W   = 8,
    parameter F   = 4
) (
    input  wire           clk,
    input  wire           ce,
    input  wire           rst,
    input  wire           start,
    output reg            done,
    input  wire [NW-1:0]  num_nodes,
    input  wire [NW-1:0]  rows_ready,
    output wire [NW-1:0]  row_raddr,
    output wire           row_re,
    input  wire [F*W-1:0] row_rdata,
    output reg  [HAW-1:0] host_address,
    output reg            host_ce,
    output reg            host_we,
    output reg  [W-1:0]   host_d
);
    localparam FW = (F > 1) ? $clog2(F) : 1;
    localparam integer F_LAST_I = F - 1;
    localparam [FW-1:0] F_LAST = F_LAST_I[FW-1:0];

    reg           running, active;
    reg [NW-1:0]  n;
    reg [FW-1:0]  f;
    reg [HAW-1:0] a;
    wire step = running & (n < rows_ready);   // a step issues (else: wait for row n)
    wire adv  = ce | rst;                     // registers with an inline reset advance in ce-cycles and on reset

    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0;
        end else if (!ce) begin
            // stalled: hold
        end else if (start) begin
            running <= (num_nodes != {NW{1'b0}});
            n <= {NW{1'b0}}; f <= {FW{1'b0}}; a <= {HAW{1'b0}};
        end else if (step) begin
            a <= a + 1'b1;
            if (f != F_LAST) begin
                f <= f + 1'b1;
            end else begin
                f <= {FW{1'b0}};
                if (n == num_nodes - 1'b1) running <= 1'b0;
                else n <= n + 1'b1;
            end
        end
    end
    assign row_raddr = n;
    assign row_re = step;

    reg           v1;
    reg [FW-1:0]  f1;
    reg [HAW-1:0] a1;
    always @(posedge clk) if (adv) begin
        v1 <= step & ~rst & ~start;
        f1 <= f;
        a1 <= a;
    end
    always @(posedge clk) if (adv) begin
        host_ce <= v1 & ~rst;
        host_we <= v1 & ~rst;
        host_address <= a1;
        host_d <= row_rdata[f1 * W +: W];
    end

    always @(posedge clk) begin
        if (rst) begin
            active <= 1'b0;
            done <= 1'b0;
        end else if (!ce) begin
            // stalled: hold
        end else if (start) begin
            active <= 1'b1;
            done <= 1'b0;
        end else if (active && !running && !v1 && !host_we) begin
            active <= 1'b0;
            done <= 1'b1;
        end else begin
            done <= 1'b0;
        end
    end
endmodule
