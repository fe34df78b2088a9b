// lpg_load_rows: copies a row-major host buffer (ap_memory, one element per word, element (n, f)
// at n*F + f) into an on-chip row buffer (one node row per word), one element per cycle:
// num_nodes * F cycles plus 3. Used for the input features.
module lpg_load_rows #(
    parameter NW  = 8,   // width of num_nodes / row addresses
    parameter HAW = 10,  // host address width
    parameter W   = 8,   // element width
    parameter F   = 4    // elements per row
) (
    input  wire           clk,
    input  wire           rst,
    input  wire           start,
    output reg            done,
    input  wire [NW-1:0]  num_nodes,
    output wire [HAW-1:0] host_address,
    output wire           host_ce,
    input  wire [W-1:0]   host_q,
    output reg            row_we,
    output reg  [NW-1:0]  row_waddr,
    output reg  [F*W-1:0] row_wdata
);
    localparam FW = (F > 1) ? $clog2(F) : 1;
    localparam integer F_LAST_I = F - 1;
    localparam [FW-1:0] F_LAST = F_LAST_I[FW-1:0];

    reg           running, active;
    reg [NW-1:0]  n;
    reg [FW-1:0]  f;
    reg [HAW-1:0] a;
    wire last_f = (f == F_LAST);

    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0;
        end else if (start) begin
            running <= (num_nodes != {NW{1'b0}});
            n <= {NW{1'b0}}; f <= {FW{1'b0}}; a <= {HAW{1'b0}};
        end else if (running) begin
            a <= a + 1'b1;
            if (!last_f) begin
                f <= f + 1'b1;
            end else begin
                f <= {FW{1'b0}};
                if (n == num_nodes - 1'b1) running <= 1'b0;
                else n <= n + 1'b1;
            end
        end
    end
    assign host_address = a;
    assign host_ce = running;

    // stage 1: element arrives, shifted into the row (element 0 ends at the bottom)
    reg          v1, last1;
    reg [NW-1:0] n1;
    always @(posedge clk) begin
        v1 <= running & ~rst & ~start;
        last1 <= last_f;
        n1 <= n;
    end
    wire [F*W-1:0] row_next;
    generate
        if (F > 1) begin : g_shift
            reg [(F-1)*W-1:0] row;   // elements received so far (the oldest at the bottom)
            assign row_next = {host_q, row};
            always @(posedge clk) if (v1) row <= row_next[F*W-1:W];
        end else begin : g_one
            assign row_next = host_q;
        end
    endgenerate
    always @(posedge clk) begin
        row_we <= v1 & last1 & ~rst;
        row_waddr <= n1;
        row_wdata <= row_next;
    end

    always @(posedge clk) begin
        if (rst) begin
            active <= 1'b0;
            done <= 1'b0;
        end else if (start) begin
            active <= 1'b1;
            done <= 1'b0;
        end else if (active && !running && !v1 && !row_we) begin
            active <= 1'b0;
            done <= 1'b1;
        end else begin
            done <= 1'b0;
        end
    end
endmodule
